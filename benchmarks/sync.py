"""Section ``sync``: a mirror-mode contact sync of the seeded users, then a check of Canvas's end state.

The desired state is derived from what the fake holds, with a seeded random generator: 2% of Canvas's
channels are left out of it (the sync must delete them) and 5% of its addresses are new (the sync must
create them). Ours is ``CanvasSyncCommunicationChannelsOperator(...).execute(context)``; the baseline is the
same plan carried out one request at a time with a plain ``requests.Session``, on a second fake seeded
identically. Both end states are read back from the fakes and compared with the desired state.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import requests

from airflow_provider_canvas.operators.contact_sync import CanvasSyncCommunicationChannelsOperator
from benchmarks import clients
from benchmarks.config import CHANNELS_PER_USER, Config
from benchmarks.fake import FakeProcess
from benchmarks.report import Column, Section, Target, count, ratio, seconds, yes_no

MISSING_SHARE = 0.05  # of the desired addresses, not yet in Canvas
EXTRA_SHARE = 0.02  # of Canvas's channels, not in the desired state
LIVE_STATES = ("active", "unconfirmed")

Desired = dict[str, list[str]]

COLUMNS = (
    Column("client", "client"),
    Column("wall", "wall", seconds),
    Column("created", "created", count),
    Column("deleted", "deleted", count),
    Column("writes", "writes", count),
    Column("requests", "requests", count),
    Column("throttled", "throttled", count),
    Column("failed", "failed", count),
    Column("speedup", "vs sequential", ratio),
    Column("end_state_ok", "end state = desired", yes_no),
)


@dataclass
class Scenario:
    desired: Desired
    to_create: int
    to_delete: int
    current: int  # live e-mail channels of the listed users before the sync


def build_desired(channels: list[dict[str, Any]], user_ids: list[int], seed: int) -> Scenario:
    """Keep Canvas's channels except 2% (each from a different user, never a user's only one), add 5%."""
    rng = random.Random(seed)
    by_user: dict[int, list[str]] = {user: [] for user in user_ids}
    for channel in channels:
        if (
            channel["user_id"] in by_user
            and channel["type"] == "email"
            and channel["workflow_state"] in LIVE_STATES
        ):
            by_user[channel["user_id"]].append(str(channel["address"]))
    current = sum(len(addresses) for addresses in by_user.values())
    droppable = [user for user, addresses in by_user.items() if len(addresses) > 1]
    extras = rng.sample(droppable, min(len(droppable), round(EXTRA_SHARE * current)))
    desired: Desired = {str(user): list(addresses) for user, addresses in by_user.items()}
    for user in extras:
        desired[str(user)].pop()
    kept = current - len(extras)
    missing = round(MISSING_SHARE / (1 - MISSING_SHARE) * kept)  # so that missing / desired = 5%
    for n, user in enumerate(rng.choices(user_ids, k=missing)):
        desired[str(user)].append(f"new{n}.user{user}@example.edu")
    return Scenario(desired, to_create=missing, to_delete=len(extras), current=current)


def end_state_matches(channels: list[dict[str, Any]], desired: Mapping[str, list[str]]) -> tuple[bool, int]:
    """Do the listed users hold exactly the desired e-mail addresses (case-insensitively, no duplicates)?"""
    live: dict[str, list[str]] = {user: [] for user in desired}
    for channel in channels:
        user = str(channel["user_id"])
        if user in live and channel["type"] == "email" and channel["workflow_state"] in LIVE_STATES:
            live[user].append(str(channel["address"]).lower())
    wrong = sum(
        1
        for user, addresses in desired.items()
        if sorted(live[user]) != sorted({address.lower() for address in addresses})
    )
    return wrong == 0, wrong


class _TaskInstance:
    """Just enough of a task instance for ``execute()``: the operator pushes its report on failure."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@dataclass
class SyncResult:
    client: str
    wall: float
    created: int
    deleted: int
    failed: int
    requests: int = 0
    throttled: int = 0
    end_state_ok: bool = False
    wrong_users: int = 0

    @property
    def writes(self) -> int:
        return self.created + self.deleted


def sync_ours(fake: FakeProcess, scenario: Scenario) -> SyncResult:
    token = fake.new_token()
    with clients.canvas_hook(fake, token) as hook:
        operator = CanvasSyncCommunicationChannelsOperator(
            task_id="benchmark_sync",
            desired=scenario.desired,
            mode="mirror",
            manage="all",
            skip_confirmation=True,
            max_deletes=scenario.to_delete,
            canvas_conn_id=hook.canvas_conn_id,
        )
        fake.reset_stats()
        started = time.perf_counter()
        report = operator.execute(cast(Any, {"ti": _TaskInstance()}))
        wall = time.perf_counter() - started
    return SyncResult(
        "ours: CanvasSyncCommunicationChannelsOperator",
        wall,
        report["created"],
        report["deleted"],
        report["failed"],
    )


def sync_sequential(fake: FakeProcess, scenario: Scenario) -> SyncResult:
    """The same sync with a plain ``requests.Session``, one request at a time: list, diff, create, delete."""
    token = fake.new_token()
    base = fake.base_url
    created = deleted = failed = 0
    fake.reset_stats()
    started = time.perf_counter()
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for user, addresses in scenario.desired.items():
            url: str | None = f"{base}/api/v1/users/{user}/communication_channels"
            params: dict[str, Any] | None = {"per_page": clients.PER_PAGE}
            live: dict[str, dict[str, Any]] = {}
            while url:
                response = session.get(url, params=params, timeout=clients.TIMEOUT)
                response.raise_for_status()
                for channel in response.json():
                    if channel["type"] == "email" and channel["workflow_state"] in LIVE_STATES:
                        live[str(channel["address"]).lower()] = channel
                url, params = response.links.get("next", {}).get("url"), None
            wanted = {address.lower(): address for address in addresses}
            for key, address in wanted.items():
                if key not in live:
                    response = session.post(
                        f"{base}/api/v1/users/{user}/communication_channels",
                        data={
                            "communication_channel[type]": "email",
                            "communication_channel[address]": address,
                            "skip_confirmation": "true",
                        },
                        timeout=clients.TIMEOUT,
                    )
                    created += response.ok
                    failed += not response.ok
            for key, channel in live.items():
                if key not in wanted:
                    response = session.delete(
                        f"{base}/api/v1/users/{user}/communication_channels/{channel['id']}",
                        timeout=clients.TIMEOUT,
                    )
                    deleted += response.ok
                    failed += not response.ok
    wall = time.perf_counter() - started
    return SyncResult("requests.Session, one request at a time (baseline)", wall, created, deleted, failed)


def _finish(fake: FakeProcess, result: SyncResult, scenario: Scenario) -> SyncResult:
    stats = fake.stats()
    result.requests, result.throttled = stats["requests"], stats["throttled"]
    result.end_state_ok, result.wrong_users = end_state_matches(fake.channels(), scenario.desired)
    return result


def run(config: Config) -> Section:
    with (
        FakeProcess(latency=config.latency, users=config.users, channels=CHANNELS_PER_USER) as fake,
        FakeProcess(latency=config.latency, users=config.users, channels=CHANNELS_PER_USER) as twin,
    ):
        scenario = build_desired(fake.channels(), fake.user_ids, config.seed)
        clients.warm_up(fake, fake.user_ids)
        sys.stderr.write("bench sync: requests.Session one at a time ...\n")
        baseline = _finish(twin, sync_sequential(twin, scenario), scenario)
        sys.stderr.write("bench sync: ours ...\n")
        mine = _finish(fake, sync_ours(fake, scenario), scenario)
    return build(config, scenario, baseline, mine)


def build(config: Config, scenario: Scenario, baseline: SyncResult, mine: SyncResult) -> Section:
    rows = []
    for result in (baseline, mine):
        row = {
            "client": result.client,
            "wall": result.wall,
            "created": result.created,
            "deleted": result.deleted,
            "writes": result.writes,
            "requests": result.requests,
            "throttled": result.throttled,
            "failed": result.failed,
            "speedup": baseline.wall / result.wall if result.wall else None,
            "end_state_ok": result.end_state_ok,
            "wrong_users": result.wrong_users,
        }
        rows.append(row)
    planned = scenario.to_create + scenario.to_delete
    throttled_share = mine.throttled / mine.requests if mine.requests else 0.0
    targets = [
        Target("end state equals the desired state", "", yes_no(mine.end_state_ok), mine.end_state_ok),
        Target(
            "writes as planned",
            f"= {scenario.to_create} creates + {scenario.to_delete} deletes",
            f"{mine.created} + {mine.deleted}",
            (mine.created, mine.deleted) == (scenario.to_create, scenario.to_delete),
        ),
        Target(
            "throttled responses",
            "< 0.5% of requests",
            f"{mine.throttled} of {mine.requests} ({100 * throttled_share:.1f}%)",
            throttled_share < 0.005,
        ),
        Target("failures", "= 0", str(mine.failed), mine.failed == 0),
    ]
    notes = [
        (
            f"{len(scenario.desired)} users with {CHANNELS_PER_USER} e-mail channels each "
            f"({scenario.current} live); desired leaves out {scenario.to_delete} ({EXTRA_SHARE:.0%} of "
            f"Canvas's) and adds {scenario.to_create} ({MISSING_SHARE:.0%} of the desired addresses): "
            f"{planned} writes planned"
        ),
        (
            "ours: mode='mirror', manage='all', skip_confirmation=True, max_deletes=<planned deletes>, "
            "connection defaults; each user's creates before their retires, users concurrently"
        ),
    ]
    return Section(
        name="sync",
        title="mirror-mode sync, then the fake's end state checked",
        params={"users": len(scenario.desired), "latency": f"{config.latency:g} s"},
        columns=COLUMNS,
        rows=rows,
        targets=targets,
        notes=notes,
        data={"planned": {"creates": scenario.to_create, "deletes": scenario.to_delete}},
    )
