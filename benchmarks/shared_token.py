"""Section ``shared``: the bulk listing in 4 processes at once, all with one token, as Airflow workers do.

Canvas throttles per token, and the hook's governor is per process: the processes only see each other
through ``X-Rate-Limit-Remaining``. Each worker (:mod:`benchmarks.shared_worker`) gets a quarter of the
users; every worker's clock starts together, after its imports and a warm-up on a token of its own (so its
governor for the shared token starts fresh, as in a task process that just started). For reference the same
listing runs first in one process with a token of its own. Targets (issue 9): together at least 90% of
the token's throttle ceiling, at most 0.5% of requests throttled, no failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from typing import IO, Any

from benchmarks import clients
from benchmarks.config import CHANNELS_PER_USER, Config
from benchmarks.fake import REPO_ROOT, Ceiling, FakeProcess
from benchmarks.report import Column, Section, Target, count, percent, rate, seconds

PROCESSES = 4
TARGET_CEILING_SHARE = 0.90
TARGET_THROTTLED_SHARE = 0.005
START_TIMEOUT = 180.0

COLUMNS = (
    Column("client", "client"),
    Column("users", "users", count),
    Column("wall", "wall", seconds),
    Column("ok", "listed", count),
    Column("requests", "requests", count),
    Column("throttled", "throttled", count),
    Column("failures", "failures", count),
    Column("max_in_flight", "peak in flight", count),
    Column("throughput", "listed/s", rate),
    Column("of_ceiling", "of ceiling", percent),
    Column("cpu", "client CPU", seconds),
)


def _start_workers(fake: FakeProcess, token: str, parts: list[list[int]], stderr: IO[bytes]) -> list[Any]:
    workers = []
    for part in parts:
        worker = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.shared_worker"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert worker.stdin is not None
        job = {
            "base_url": fake.base_url,
            "token": token,
            "warm_up_token": fake.new_token(),
            "users": part,
            "warm_up": part[:3],
        }
        worker.stdin.write(json.dumps(job) + "\n")
        worker.stdin.flush()
        workers.append(worker)
    return workers


def _line(worker: Any) -> str:
    line = str(worker.stdout.readline())
    if not line:
        raise RuntimeError("a shared-token worker ended early (its log is on stderr)")
    return line.strip()


def run_together(fake: FakeProcess, token: str, users: list[int]) -> tuple[list[dict[str, Any]], dict]:
    """Each worker's result, and the fake's counters for the run (reset once every worker is ready)."""
    parts = [users[index::PROCESSES] for index in range(PROCESSES)]
    with tempfile.TemporaryFile() as stderr:
        workers = _start_workers(fake, token, parts, stderr)
        try:
            for worker in workers:
                if _line(worker) != "ready":
                    raise RuntimeError("a shared-token worker did not get ready")
            fake.reset_stats()
            for worker in workers:
                worker.stdin.write("go\n")
                worker.stdin.flush()
            results = [json.loads(_line(worker)) for worker in workers]
            stats = fake.stats()
        finally:
            for worker in workers:
                worker.stdin.close()
                if worker.wait(START_TIMEOUT) != 0:
                    stderr.seek(0)
                    sys.stderr.write(stderr.read().decode("utf-8", "replace")[-3000:])
    for result, part in zip(results, parts, strict=True):
        result["users"] = len(part)
    return results, stats


def run(config: Config) -> Section:
    with FakeProcess(latency=config.latency, users=config.users, channels=CHANNELS_PER_USER) as fake:
        ceiling = fake.ceiling()
        users = fake.user_ids
        clients.warm_up(fake, users)
        sys.stderr.write("bench shared: one process (reference) ...\n")
        alone = clients.measure("one process, own token (reference)", fake, clients.ours(), users)
        sys.stderr.write(f"bench shared: {PROCESSES} processes, one token ...\n")
        results, stats = run_together(fake, fake.new_token(), users)
    return build(config, ceiling, alone, results, stats)


def build(
    config: Config,
    ceiling: Ceiling,
    alone: clients.RunResult,
    results: list[dict[str, Any]],
    stats: dict[str, Any],
) -> Section:
    rows = [{**alone.as_dict(), "of_ceiling": alone.throughput / ceiling.requests_per_second}]
    first, last = min(r["started"] for r in results), max(r["ended"] for r in results)
    for number, result in enumerate(results, start=1):
        wall = result["ended"] - result["started"]
        rows.append(
            {
                "client": f"  process {number} of {PROCESSES}",
                "users": result["users"],
                "wall": wall,
                "ok": result["ok"],
                "requests": result["requests"],
                "throttled": result["throttled"],
                "failures": result["failures"],
                "max_in_flight": result["peak_in_flight"],
                "throughput": result["ok"] / wall if wall > 0 else 0.0,
                "cpu": result["cpu"],
            }
        )
    wall = last - first
    ok = sum(r["ok"] for r in results)
    failures = sum(r["failures"] for r in results)
    together = {
        "client": f"{PROCESSES} processes together, one token",
        "users": sum(r["users"] for r in results),
        "wall": wall,
        "ok": ok,
        "requests": stats["requests"],
        "throttled": stats["throttled"],
        "failures": failures,
        "max_in_flight": stats["max_in_flight"],
        "throughput": ok / wall if wall > 0 else 0.0,
        "cpu": sum(r["cpu"] for r in results),
    }
    together["of_ceiling"] = together["throughput"] / ceiling.requests_per_second
    rows.append(together)
    throttled_share = stats["throttled"] / stats["requests"] if stats["requests"] else 0.0
    targets = [
        Target(
            "together vs throttle ceiling",
            f">= {TARGET_CEILING_SHARE:.0%}",
            percent(together["of_ceiling"]),
            together["of_ceiling"] >= TARGET_CEILING_SHARE,
        ),
        Target(
            "throttled responses",
            f"<= {TARGET_THROTTLED_SHARE:.1%} of requests",
            f"{stats['throttled']} of {stats['requests']} ({percent(throttled_share)})",
            throttled_share <= TARGET_THROTTLED_SHARE,
        ),
        Target("failures", "= 0", str(failures), failures == 0),
    ]
    notes = [
        (
            f"ceiling = {ceiling.requests_per_second:.1f} requests/s for the token "
            f"({ceiling.in_flight} in flight / {config.latency:g} s), whatever the number of processes"
        ),
        _bucket_note(ceiling, config, alone, together, stats),
        (
            f"{PROCESSES} worker processes, users dealt round-robin; each imports the hook and lists 3 users "
            "on a token of its own first (its governor for the shared token starts fresh, as in a new task); "
            "the clocks start together after that; 'peak in flight' of a process is its governor's count, "
            "of the whole run the fake's"
        ),
    ]
    return Section(
        name="shared",
        title=f"bulk listing in {PROCESSES} processes sharing one token",
        params={"users": together["users"], "latency": f"{config.latency:g} s", "processes": PROCESSES},
        columns=COLUMNS,
        rows=rows,
        targets=targets,
        notes=notes,
        data={
            "ceiling": {"requests_per_second": ceiling.requests_per_second},
            "seconds_in_bucket": {
                "alone": alone.mean_seconds_in_flight,
                "together": stats["mean_seconds_in_flight"],
            },
        },
    )


def _bucket_note(
    ceiling: Ceiling,
    config: Config,
    alone: clients.RunResult,
    together: dict[str, Any],
    stats: dict[str, Any],
) -> str:
    """The ceiling at the request duration the fake's bucket really saw, beside the nominal one.

    The nominal ceiling counts the latency only; each request also spends the fake's own work inside the
    bucket, which no client can win back. This says how much of the shortfall is the server's.
    """
    together_seconds, alone_seconds = stats["mean_seconds_in_flight"], alone.mean_seconds_in_flight
    if together_seconds <= 0 or alone_seconds <= 0:
        return "the fake reported no time in its bucket"
    together_ceiling = ceiling.at_duration(together_seconds)
    alone_ceiling = ceiling.at_duration(alone_seconds)
    return (
        f"the fake held each admitted request {together_seconds * 1000:.1f} ms on average "
        f"({config.latency * 1000:g} ms latency plus its own work; "
        f"one process: {alone_seconds * 1000:.1f} ms): at that duration the bucket lets through at most "
        f"{together_ceiling:.1f}/s, of which the {PROCESSES} processes reached "
        f"{together['throughput'] / together_ceiling:.1%} "
        f"(one process {alone.throughput / alone_ceiling:.1%} of {alone_ceiling:.1f}/s); "
        "the target is against the nominal ceiling"
    )
