"""Section ``streaming``: peak memory while listing many channels, ours against canvasapi, at two sizes.

Two shapes, each at a small and a large size (10,000 and 100,000 channels by default):

* one user holding every channel (seeded directly; through the API Canvas stops a user at 100), listed
  page by page: our ``iter_communication_channels`` against canvasapi's ``PaginatedList``;
* many users with 100 channels each, the nightly-sync shape, through our bulk
  ``iter_communication_channels_for_users`` (canvasapi, user by user, drops each user's list, so it has
  nothing to show there).

Each measurement runs in a fresh process (:mod:`benchmarks.memory_worker`) against a fake without latency
(memory does not depend on it, and 1,000 pages stay quick). Ours is measured twice, with tracemalloc (the
exact Python peak, for the flatness target) and by peak RSS growth; canvasapi by peak RSS growth only:
tracemalloc slows its per-channel date parsing (arrow) about sevenfold, which puts 100,000 channels past
half an hour. "Flat" means the large size peaks at most 1.25x the small one for 10x the channels.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from benchmarks.config import Config
from benchmarks.fake import REPO_ROOT, FakeProcess
from benchmarks.report import Column, Section, Target, count, kibibytes, ratio, seconds

PER_USER = 100  # channels per user in the many-users shape (Canvas's own cap through the API)
FLAT_LIMIT = 1.25
# The bulk call's peak depends on how many finished users wait for the consumer at once (at most its
# window of 2 x max_concurrency); runs differ by about a third, so the bulk shape keeps the largest of
# a few runs at each size: the bound, which is what "flat" is about.
BULK_REPEATS = 3
WORKER_TIMEOUT = 600

COLUMNS = (
    Column("client", "client"),
    Column("shape", "shape"),
    Column("channels", "channels", count),
    Column("requests", "requests", count),
    Column("seconds", "wall", seconds),
    Column("rss", "peak RSS growth", kibibytes),
    Column("rss_growth", "RSS vs small", ratio),
    Column("traced", "tracemalloc peak", kibibytes),
    Column("traced_growth", "traced vs small", ratio),
)

ONE_USER, BULK = "one user", f"users x {PER_USER}"
RUNS = (  # (client, shape, label, metrics)
    ("ours", "one-user", "ours: iter_communication_channels", ("tracemalloc", "rss")),
    ("canvasapi", "one-user", "canvasapi: PaginatedList", ("rss",)),
    ("ours", "bulk", "ours: iter_communication_channels_for_users", ("tracemalloc", "rss")),
)


def sizes(config: Config, shape: str) -> tuple[int, int]:
    """The small and large sizes. The bulk shape's small size must exceed the hook's window of pending
    users (2 x max_concurrency = 32 users, 3,200 channels), or it would only measure a part-full window."""
    if not config.quick:
        return (10_000, 100_000)
    return (500, 5_000) if shape == "one-user" else (10_000, 30_000)


def _measure(fake: FakeProcess, client: str, shape: str, users: list[int], metric: str) -> dict[str, Any]:
    token = fake.new_token()
    fake.reset_stats()
    args = [
        sys.executable,
        "-m",
        "benchmarks.memory_worker",
        f"--client={client}",
        f"--shape={shape}",
        f"--metric={metric}",
        f"--base-url={fake.base_url}",
        f"--token={token}",
        f"--first-user={users[0]}",
        f"--users={len(users)}",
    ]
    done = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"memory worker {client}/{shape}/{metric} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["requests"] = fake.stats()["requests"]
    return result


def _row(
    fake: FakeProcess, client: str, shape: str, label: str, metrics: tuple[str, ...], size: int
) -> dict[str, Any]:
    users = fake.user_ids[:1] if shape == "one-user" else fake.user_ids[: size // PER_USER]
    row: dict[str, Any] = {"client": label, "shape": ONE_USER if shape == "one-user" else BULK, "size": size}
    repeats = BULK_REPEATS if shape == "bulk" else 1
    for metric in metrics:
        key = "rss" if metric == "rss" else "traced"
        for number in range(repeats):
            sys.stderr.write(f"bench streaming: {label}, {size:,} channels, {metric} ({number + 1}) ...\n")
            result = _measure(fake, client, shape, users, metric)
            row[key] = max(row.get(key, 0), result["peak_bytes"])
            row.setdefault(f"{key}_runs", []).append(result["peak_bytes"])
            if metric == "rss" or "seconds" not in row:  # the untraced run's time when there is one
                row.update(
                    channels=result["channels"], requests=result["requests"], seconds=result["seconds"]
                )
    return row


def run(config: Config) -> Section:
    rows: list[dict[str, Any]] = []
    for size in sizes(config, "one-user"):
        with FakeProcess(latency=0.0, users=1, channels=size) as fake:
            rows += [_row(fake, c, s, label, m, size) for c, s, label, m in RUNS if s == "one-user"]
    small, large = sizes(config, "bulk")
    with FakeProcess(latency=0.0, users=large // PER_USER, channels=PER_USER) as fake:
        for size in (small, large):
            rows += [_row(fake, c, s, label, m, size) for c, s, label, m in RUNS if s == "bulk"]
    return build(config, rows)


def build(config: Config, rows: list[dict[str, Any]]) -> Section:
    by_key = {(row["client"], row["size"]): row for row in rows}
    for row in rows:
        small, large = sizes(config, "one-user" if row["shape"] == ONE_USER else "bulk")
        if row["size"] == large:
            base = by_key[row["client"], small]
            for metric in ("rss", "traced"):
                if row.get(metric) is not None and base.get(metric):
                    row[f"{metric}_growth"] = row[metric] / base[metric]
    targets = []
    for _, shape, label, _ in RUNS:
        small, large = sizes(config, shape)
        growth = by_key[label, large].get("traced_growth")
        if growth is not None:
            targets.append(
                Target(
                    f"memory flat in the number of channels, {label} (tracemalloc)",
                    f"<= {FLAT_LIMIT:g}x for {large // small}x the channels",
                    ratio(growth),
                    growth <= FLAT_LIMIT,
                )
            )
    small, large = sizes(config, "one-user")
    ours = by_key[RUNS[0][2], large]
    theirs = by_key[RUNS[1][2], large]
    notes = [
        (
            f"one user, {large:,} channels, peak RSS growth: canvasapi {theirs['rss'] / 2**20:.1f} MiB, "
            f"ours {ours['rss'] / 2**20:.1f} MiB (PaginatedList keeps every element it has fetched)"
        ),
        (
            "peak of the listing only (imports and a warm-up request come first), each run in a fresh "
            f"process; fake without latency; wall is from the untraced run; bulk rows: the largest of "
            f"{BULK_REPEATS} runs"
        ),
    ]
    return Section(
        name="streaming",
        title="peak memory listing many channels",
        params={
            "one user": " and ".join(f"{n:,}" for n in sizes(config, "one-user")) + " channels",
            "many users": " and ".join(f"{n:,}" for n in sizes(config, "bulk")) + " channels",
        },
        columns=COLUMNS,
        rows=rows,
        targets=targets,
        notes=notes,
    )
