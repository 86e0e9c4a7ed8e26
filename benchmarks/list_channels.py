"""Section ``list``: every seeded user's channels, our bulk call against the ways people do it without it.

All four clients list the same users on the same fake (Canvas's default throttle, the given latency),
each with a fresh token. The baseline for ratios is the plain ``requests.Session`` loop: the sequential
client everyone starts with. The ceiling is the most any client could reach under the fake's throttle.
"""

from __future__ import annotations

import sys

from benchmarks import clients
from benchmarks.config import CHANNELS_PER_USER, Config
from benchmarks.fake import Ceiling, FakeProcess
from benchmarks.report import Column, Section, Target, count, percent, rate, ratio, seconds

NAIVE_THREADS = 32
TARGET_SPEEDUP = 8.0
TARGET_CEILING_SHARE = 0.85
TARGET_THROTTLED_SHARE = 0.005
TARGET_FEWER_THROTTLES = 10.0

COLUMNS = (
    Column("client", "client"),
    Column("wall", "wall", seconds),
    Column("ok", "listed", count),
    Column("requests", "requests", count),
    Column("throttled", "throttled", count),
    Column("failures", "failures", count),
    Column("max_in_flight", "peak in flight", count),
    Column("throughput", "listed/s", rate),
    Column("vs_sequential", "vs sequential", ratio),
    Column("of_ceiling", "of ceiling", percent),
    Column("cpu", "client CPU", seconds),
)


def run(config: Config) -> Section:
    with FakeProcess(latency=config.latency, users=config.users, channels=CHANNELS_PER_USER) as fake:
        ceiling = fake.ceiling()
        users = fake.user_ids
        contenders: list[tuple[str, clients.ListClient]] = [
            ("requests.Session loop (baseline)", clients.requests_loop),
            ("canvasapi, user by user", clients.canvasapi_loop),
            (f"naive pool, {NAIVE_THREADS} threads", clients.naive_pool(NAIVE_THREADS)),
            ("ours: iter_communication_channels_for_users", clients.ours()),
        ]
        clients.warm_up(fake, users)
        results = []
        for name, client in contenders:
            sys.stderr.write(f"bench list: {name} ...\n")
            results.append(clients.measure(name, fake, client, users))
    return build(config, ceiling, results)


def build(config: Config, ceiling: Ceiling, results: list[clients.RunResult]) -> Section:
    baseline, _, naive, mine = results
    rows = []
    for result in results:
        row = result.as_dict()
        row["vs_sequential"] = result.throughput / baseline.throughput if baseline.throughput else None
        row["of_ceiling"] = result.throughput / ceiling.requests_per_second
        rows.append(row)
    speedup = rows[-1]["vs_sequential"] or 0.0
    share = rows[-1]["of_ceiling"]
    fewer = naive.throttled / mine.throttled if mine.throttled else (float("inf") if naive.throttled else 0.0)
    targets = [
        Target(
            "throughput vs sequential", f">= {TARGET_SPEEDUP:g}x", ratio(speedup), speedup >= TARGET_SPEEDUP
        ),
        Target(
            "throughput vs throttle ceiling",
            f">= {TARGET_CEILING_SHARE:.0%}",
            percent(share),
            share >= TARGET_CEILING_SHARE,
        ),
        Target(
            "throttled responses",
            f"< {TARGET_THROTTLED_SHARE:.1%} of requests",
            f"{mine.throttled} of {mine.requests} ({percent(mine.throttled_share)})",
            mine.throttled_share < TARGET_THROTTLED_SHARE,
        ),
        Target("failures", "= 0", str(mine.failures), mine.failures == 0),
        Target(
            "fewer throttled responses than the naive pool",
            f">= {TARGET_FEWER_THROTTLES:g}x",
            f"{naive.throttled} vs {mine.throttled} ({ratio(fewer)})",
            fewer >= TARGET_FEWER_THROTTLES,
        ),
    ]
    notes = [
        (
            f"ceiling = min(in-flight bound floor(hwm/up-front) = {ceiling.in_flight} / {config.latency:g} s "
            f"= {ceiling.in_flight_bound:.1f}/s, cost bound outflow/cost = {ceiling.cost_bound:.1f}/s) "
            f"= {ceiling.requests_per_second:.1f} requests/s; one page per user: listed/s = requests/s"
        ),
        f"{CHANNELS_PER_USER} channels per user; baselines do not retry, so a throttled answer is a failure",
    ]
    return Section(
        name="list",
        title="list every user's channels",
        params={"users": baseline.users, "latency": f"{config.latency:g} s"},
        columns=COLUMNS,
        rows=rows,
        targets=targets,
        notes=notes,
        data={
            "ceiling": {
                "in_flight": ceiling.in_flight,
                "in_flight_bound": ceiling.in_flight_bound,
                "cost_bound": ceiling.cost_bound,
                "requests_per_second": ceiling.requests_per_second,
            }
        },
    )
