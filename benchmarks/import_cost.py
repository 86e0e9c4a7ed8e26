"""Section ``import``: what our operators module adds to parsing a DAG file, on top of ``airflow.sdk``.

The DAG processor has Airflow's SDK imported already; what a DAG file pays for using our operators is
the import of ``airflow_provider_canvas.operators.communication_channels`` on top. Each run is a fresh
interpreter (nothing cached in ``sys.modules``) that imports ``airflow.sdk`` and ``DAG`` first, then times
our import; the median of several runs is reported.

Two cases. Installed: pip and uv compile a wheel's modules to bytecode at install time, so a deployed
provider is never compiled while a DAG is parsed; here the bytecode goes to a private
``PYTHONPYCACHEPREFIX`` (nothing is written into the checkout) and one warm-up run fills it. This
checkout: exactly as this environment runs it; with ``PYTHONDONTWRITEBYTECODE=1`` (set on the project's
machines) the editable package is compiled from source in every process. The target is judged on the
installed case. One more run under ``-X importtime`` attributes the installed time to modules.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any

from benchmarks.config import Config
from benchmarks.fake import REPO_ROOT
from benchmarks.report import Column, Section, Target, count, milliseconds

TARGET = 0.050
MODULE = "airflow_provider_canvas.operators.communication_channels"
MARK = "-- benchmark: our import starts here --"
TOP = 12

PROBE = f"""
import json, sys, time
import airflow.sdk
from airflow.sdk import DAG
before = set(sys.modules)
sys.stderr.write({MARK!r} + "\\n")
started = time.perf_counter()
import {MODULE}
seconds = time.perf_counter() - started
new = sorted(set(sys.modules) - before)
print(json.dumps({{"seconds": seconds, "modules": new}}))
"""

COLUMNS = (
    Column("what", "import"),
    Column("median", "median", milliseconds),
    Column("min", "min", milliseconds),
    Column("max", "max", milliseconds),
    Column("modules", "new modules", count),
)


def _probe(env: Mapping[str, str], *flags: str) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, *flags, "-c", PROBE],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"import probe failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result, done.stderr


def importtime_top(stderr: str) -> list[dict[str, Any]]:
    """Where our import's time goes, from the ``-X importtime`` lines after the mark.

    Outside modules that our modules import directly (by cumulative time: what a lazy import would save),
    then our own modules (by self time: module bodies, class creation, regex compiles).
    """
    _, _, after = stderr.partition(MARK)
    entries: list[dict[str, Any]] = []
    for line in after.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        name = fields[2].rstrip()
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        entries.append(
            {
                "module": name.strip(),
                "depth": depth,
                "self": int(fields[0]) / 1e6,
                "cumulative": int(fields[1]) / 1e6,
            }
        )
    outside: list[dict[str, Any]] = []
    parents: list[dict[str, Any]] = []
    for entry in reversed(entries):  # importtime prints children before their parent
        while parents and parents[-1]["depth"] >= entry["depth"]:
            parents.pop()
        if parents and not _ours(entry) and _ours(parents[-1]):
            outside.append(entry)
        parents.append(entry)
    own = [entry for entry in entries if _ours(entry)]
    outside.sort(key=lambda entry: entry["cumulative"], reverse=True)
    own.sort(key=lambda entry: entry["self"], reverse=True)
    return [
        *({"module": e["module"], "kind": "outside", "ms": e["cumulative"] * 1000} for e in outside[:TOP]),
        *({"module": e["module"], "kind": "ours", "ms": e["self"] * 1000} for e in own[:TOP]),
    ]


def _listing(rows: Iterable[dict[str, Any]]) -> str:
    return "\n".join(f"     {row['ms']:7.1f} ms  {row['module']}" for row in rows) or "     (none)"


def _ours(entry: dict[str, Any]) -> bool:
    return str(entry["module"]).startswith("airflow_provider_canvas")


def _installed_env(cache: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def _runs(envs: Mapping[str, Mapping[str, str]], runs: int) -> dict[str, tuple[list[float], list[str]]]:
    """``runs`` probes per environment, alternating between them so they share the machine's noise."""
    results: dict[str, tuple[list[float], list[str]]] = {name: ([], []) for name in envs}
    for number in range(runs):
        sys.stderr.write(f"bench import: run {number + 1} of {runs} ...\n")
        for name, env in envs.items():
            result, _ = _probe(env)
            results[name][0].append(result["seconds"])
            results[name][1][:] = result["modules"]
    return results


def _row(what: str, seconds: list[float], modules: list[str]) -> dict[str, Any]:
    return {
        "what": what,
        "median": statistics.median(seconds),
        "min": min(seconds),
        "max": max(seconds),
        "modules": len(modules),
        "samples": seconds,
    }


def run(config: Config) -> Section:
    runs = 3 if config.quick else 11
    with tempfile.TemporaryDirectory(prefix="canvas-bench-pycache-") as cache:
        installed = _installed_env(cache)
        _probe(installed)  # warm-up: compiles everything into the private cache
        results = _runs({"installed": installed, "checkout": os.environ}, runs)
        _, stderr = _probe(installed, "-X", "importtime")
    (cached, modules), (as_is, _) = results["installed"], results["checkout"]
    top = importtime_top(stderr)
    no_bytecode = os.environ.get("PYTHONDONTWRITEBYTECODE") not in (None, "")
    rows = [
        _row("installed (bytecode compiled, as pip/uv install it)", cached, modules),
        _row(
            "this checkout as run here"
            + (" (PYTHONDONTWRITEBYTECODE=1: compiled from source)" if no_bytecode else ""),
            as_is,
            modules,
        ),
    ]
    median = rows[0]["median"]
    third_party = sorted({m.split(".")[0] for m in modules if not m.startswith("airflow_provider_canvas")})
    notes = [
        (
            f"{MODULE} after `import airflow.sdk; from airflow.sdk import DAG`; {runs} fresh interpreters "
            "each, alternating; timings on this machine are bimodal, so min and max are shown too"
        ),
        f"new top-level packages: {', '.join(third_party) or 'none'}",
        "installed, one -X importtime run: outside modules imported by ours (cumulative):\n"
        + _listing(r for r in top if r["kind"] == "outside"),
        "our own modules (self time: module bodies, class creation):\n"
        + _listing(r for r in top if r["kind"] == "ours"),
    ]
    return Section(
        name="import",
        title="DAG parsing cost of our operators module",
        params={"runs": runs},
        columns=COLUMNS,
        rows=rows,
        targets=[
            Target(
                "import cost on top of airflow.sdk, installed",
                f"< {TARGET * 1000:.0f} ms",
                milliseconds(median),
                median < TARGET,
            )
        ],
        notes=notes,
        data={"importtime_top": top, "new_modules": modules},
    )
