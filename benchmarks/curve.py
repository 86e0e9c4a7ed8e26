"""Section ``curve``: throughput and throttled answers against concurrency, ours against a fixed pool.

At each concurrency ``c`` our bulk call runs with ``max_concurrency=c`` and a plain ``requests`` pool of
``c`` threads (no retries: a throttled answer is a failure) lists the same users, each with a fresh token.
The number of users per point grows with ``c`` so every point runs a few seconds. The plot shows the
users actually listed per second against the throttle ceiling: a fixed pool rises with ``c`` until about
a dozen requests fill the bucket, then keeps its speed only by failing users; ours levels off under the
ceiling and never fails one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from benchmarks import clients
from benchmarks.config import CHANNELS_PER_USER, Config
from benchmarks.fake import REPO_ROOT, Ceiling, FakeProcess
from benchmarks.plot import Series, line_chart, stack
from benchmarks.report import Column, Section, count, percent, rate

POINTS = (1, 2, 4, 8, 11, 12, 16, 24, 32)
QUICK_POINTS = (1, 4, 12, 32)
USERS_PER_CONCURRENCY = 60  # users listed at each point: 60 x c, at least 100, at most 1,000
PLOT_NAME = "benchmarks-concurrency.svg"

COLUMNS = (
    Column("concurrency", "concurrency"),
    Column("users", "users", count),
    Column("ours_throughput", "ours users/s", rate),
    Column("ours_throttled", "ours throttled", count),
    Column("ours_failures", "ours failed", count),
    Column("ours_peak", "ours peak", count),
    Column("pool_throughput", "pool users/s", rate),
    Column("pool_throttled", "pool throttled", count),
    Column("pool_failures", "pool failed", count),
    Column("pool_peak", "pool peak", count),
    Column("ours_of_ceiling", "ours of ceiling", percent),
)


def users_for(concurrency: int, available: int, quick: bool) -> int:
    wanted = max(100, min(1000, USERS_PER_CONCURRENCY * concurrency))
    return min(available, wanted // 2 if quick else wanted)


def run(config: Config) -> Section:
    points = QUICK_POINTS if config.quick else POINTS
    rows: list[dict[str, Any]] = []
    with FakeProcess(latency=config.latency, users=config.users, channels=CHANNELS_PER_USER) as fake:
        ceiling = fake.ceiling()
        clients.warm_up(fake, fake.user_ids)
        for concurrency in points:
            users = fake.user_ids[: users_for(concurrency, len(fake.user_ids), config.quick)]
            sys.stderr.write(f"bench curve: concurrency {concurrency}, {len(users)} users ...\n")
            mine = clients.measure("ours", fake, clients.ours(concurrency), users)
            pool = clients.measure("pool", fake, clients.naive_pool(concurrency), users)
            rows.append(
                {
                    "concurrency": concurrency,
                    "users": len(users),
                    "ours_throughput": mine.throughput,
                    "ours_throttled": mine.throttled,
                    "ours_failures": mine.failures,
                    "ours_peak": mine.max_in_flight,
                    "ours_requests": mine.requests,
                    "pool_throughput": pool.throughput,
                    "pool_throttled": pool.throttled,
                    "pool_failures": pool.failures,
                    "pool_peak": pool.max_in_flight,
                    "pool_requests": pool.requests,
                    "pool_wall": pool.wall,
                    "ours_wall": mine.wall,
                    "ours_of_ceiling": mine.throughput / ceiling.requests_per_second,
                }
            )
    svg = plot(rows, ceiling, config)
    written = []
    for target in (config.plot, config.out / PLOT_NAME if config.out else None):
        if target is not None:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            Path(target).write_text(svg)
            written.append(_shown(Path(target)))
    notes = [
        (
            f"ceiling {ceiling.requests_per_second:.1f} requests/s (in-flight bound {ceiling.in_flight} / "
            f"{config.latency:g} s); 'peak' = most requests inside the fake at once"
        ),
        "users/s counts users listed successfully; the pool does not retry, so throttled users are failures",
        f"plot written to {', '.join(written) or 'nowhere (use --out or --plot)'}",
    ]
    return Section(
        name="curve",
        title="throughput and throttling against concurrency",
        params={"latency": f"{config.latency:g} s", "points": ",".join(map(str, points))},
        columns=COLUMNS,
        rows=rows,
        notes=notes,
        data={"plot": written},
    )


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside it (``docs/...``), else as given."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def plot(rows: list[dict[str, Any]], ceiling: Ceiling, config: Config) -> str:
    xs = [row["concurrency"] for row in rows]
    series = [
        Series("ours (bulk call)", [(r["concurrency"], r["ours_throughput"]) for r in rows], "#1f77b4"),
        Series("fixed pool: listed", [(r["concurrency"], r["pool_throughput"]) for r in rows], "#d62728"),
        Series(
            "fixed pool: listed + failed",
            [(r["concurrency"], r["users"] / r["pool_wall"]) for r in rows],
            "#d62728",
            dashed=True,
            markers=False,
        ),
        Series(
            "throttle ceiling",
            [(min(xs), ceiling.requests_per_second), (max(xs), ceiling.requests_per_second)],
            "#555",
            dashed=True,
            markers=False,
        ),
    ]
    subtitle = (
        f"fake Canvas, default throttle (hwm 600, up-front 50), latency {config.latency * 1000:g} ms, "
        f"{CHANNELS_PER_USER} channels per user"
    )
    x_label = "concurrency (max_concurrency for ours, threads for the pool)"
    throughput = line_chart(
        "Users listed per second against concurrency",
        x_label,
        "users listed per second",
        series,
        x_ticks=xs,
        subtitle=subtitle,
    )
    throttled = line_chart(
        "Throttled responses against concurrency",
        x_label,
        "throttled responses (403)",
        [
            Series("ours (retried)", [(r["concurrency"], r["ours_throttled"]) for r in rows], "#1f77b4"),
            Series("fixed pool (failed)", [(r["concurrency"], r["pool_throttled"]) for r in rows], "#d62728"),
        ],
        x_ticks=xs,
        subtitle="the same runs; users per point: " + ", ".join(str(r["users"]) for r in rows),
    )
    return stack([throughput, throttled])
