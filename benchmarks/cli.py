"""``python -m benchmarks``: parse the flags, run the sections in order, print their tables, write JSON.

Tables go to stdout. Everything the code under test logs (the hook's progress lines, the operator's
summary) is sent to stderr while a section runs, so stdout stays the readable report.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.config import DEFAULT_LATENCY, DEFAULT_USERS, QUICK_LATENCY, QUICK_USERS, Config
from benchmarks.fake import REPO_ROOT
from benchmarks.report import Section, print_section

SECTIONS = ("list", "sync", "shared", "streaming", "overhead", "import", "curve")
DOCS_PLOT = REPO_ROOT / "docs" / "benchmarks-concurrency.svg"
MIN_USERS = 2000


def _runner(name: str) -> Callable[[Config], Section]:
    # Imported on demand: ``--only import`` must not import Airflow into this process, for instance.
    if name == "list":
        from benchmarks.list_channels import run
    elif name == "sync":
        from benchmarks.sync import run
    elif name == "shared":
        from benchmarks.shared_token import run
    elif name == "streaming":
        from benchmarks.streaming import run
    elif name == "overhead":
        from benchmarks.overhead import run
    elif name == "import":
        from benchmarks.import_cost import run
    else:
        from benchmarks.curve import run
    return run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmarks of airflow-provider-canvas against canvasapi and plain requests, on the "
        "bundled fake Canvas (a separate process, Canvas's default throttle). See docs/benchmarks.md.",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=None,
        help=f"seeded users (default {DEFAULT_USERS}; at least {MIN_USERS} unless --quick)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=None,
        help=f"seconds each request spends in the fake (default {DEFAULT_LATENCY:g}; "
        f"{QUICK_LATENCY:g} with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a small smoke run for CI: {QUICK_USERS} users, smaller sizes, fewer repetitions",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only this section (repeat or comma-separate for several): {', '.join(SECTIONS)}",
    )
    parser.add_argument("--out", type=Path, help="write results.json (and the plot) to this directory")
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        help="where the concurrency plot goes (default: docs/benchmarks-concurrency.svg on a full run, "
        "nowhere but --out with --quick)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="overhead section: also profile the hook and print the functions its CPU goes to",
    )
    parser.add_argument("--seed", type=int, default=Config.seed, help="seed for the sync's random choices")
    return parser


def parse(argv: list[str] | None) -> tuple[Config, list[str]]:
    parser = _parser()
    args = parser.parse_args(argv)
    users = args.users if args.users is not None else (QUICK_USERS if args.quick else DEFAULT_USERS)
    latency = args.latency if args.latency is not None else (QUICK_LATENCY if args.quick else DEFAULT_LATENCY)
    if users < 1 or (not args.quick and users < MIN_USERS):
        parser.error(f"--users must be at least {MIN_USERS} (or use --quick for a small run)")
    if latency < 0:
        parser.error("--latency must not be negative")
    only = [name.strip() for value in args.only or [] for name in value.split(",") if name.strip()]
    unknown = [name for name in only if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    plot = args.plot if args.plot is not None else (None if args.quick else DOCS_PLOT)
    config = Config(
        users=users,
        latency=latency,
        quick=args.quick,
        seed=args.seed,
        out=args.out,
        plot=plot,
        profile=args.profile,
    )
    return config, [name for name in SECTIONS if not only or name in only]


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        **_code_version(),
    }


def _code_version() -> dict[str, Any]:
    """Which code was measured: the commit, and whether the package had uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "airflow_provider_canvas"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "package_changes": None}
    return {"commit": commit or None, "package_changes": len(changed)}


def main(argv: list[str] | None = None) -> int:
    config, names = parse(argv)
    report = sys.stdout
    started = time.time()
    env = machine()
    report.write(
        f"airflow-provider-canvas benchmarks: users={config.users} latency={config.latency:g}s "
        f"quick={config.quick} sections={','.join(names)}\n"
        f"machine: {env['usable_cpus']} usable CPUs, Python {env['python']}, {env['platform']}\n"
        f"code: commit {env['commit']}, {env['package_changes']} uncommitted change(s) in the package\n\n"
    )
    report.flush()
    results: dict[str, Any] = {
        "config": {
            "users": config.users,
            "latency": config.latency,
            "quick": config.quick,
            "seed": config.seed,
        },
        "machine": env,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "sections": {},
    }
    if config.out is not None:
        config.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        section_started = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # the code under test logs to stdout
            section = _runner(name)(config)
        section.data.setdefault("seconds", round(time.perf_counter() - section_started, 1))
        print_section(section, report)
        results["sections"][name] = section.as_dict()
        if config.out is not None:  # written after each section, so an interrupted run keeps what it did
            (config.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    report.write(f"done in {time.time() - started:.0f} s\n")
    return 0
