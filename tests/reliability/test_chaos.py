"""Nothing lost, nothing doubled: a 1,000-user contact sync under random faults, interrupted and re-run.

The fake Canvas answers about 1% of requests with a fault (5xx, throttling, resets before and after the
request ran, stalls past the timeout, broken bodies) and throttles for real when too much is in flight.
Part-way through the writes of the first run, Canvas becomes unreachable (every request is reset), as
when a worker loses its network mid-run: the sync stops submitting work at once, and the task ends failed
(retryably) with its report and plan file. The second run must finish the job. Checked: nobody who had an
address is left without one, the end state is exactly the desired state, no address was created twice
(in the fake's rows, retired ones included, and in the request log), and the first run's plan file
accounts for every item it did not do.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

import pytest

from airflow_provider_canvas._compat import AirflowException
from airflow_provider_canvas.hooks.canvas import CanvasHook
from airflow_provider_canvas.operators.communication_channels import CanvasSyncCommunicationChannelsOperator
from airflow_provider_canvas.testing import FakeCanvas, Fault

USERS = 1000
BYSTANDERS = 20  # users absent from ``desired``: a mirror sync must never touch them
FAULT_RATE = 0.01
OUTAGE_AFTER_WRITES = 400  # of 1,200 writes in all: part-way through the creates
CHAOS_FAULTS = [
    Fault.status(500),
    Fault.status(502),
    Fault.status(503),
    Fault.status(504),
    Fault.throttle(),
    Fault.throttle(429),
    Fault.reset(),
    Fault.reset(after_processing=True),  # Canvas did it, the client cannot know: the ambiguous case
    Fault.stall(5.0),
    Fault.stall(5.0, after_processing=True),
    Fault.malformed_json(),
    Fault.truncated_body(),
    Fault.empty_body(),
]


class RecordingTaskInstance:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _live(canvas: FakeCanvas) -> dict[int, set[str]]:
    live: dict[int, set[str]] = {}
    for channel in canvas.all_channels():
        live.setdefault(int(str(channel["user_id"])), set()).add(str(channel["address"]).lower())
    return live


def _rows(canvas: FakeCanvas) -> list[tuple[int, str, str]]:
    return [
        (int(str(c["user_id"])), str(c["type"]), str(c["address"]).lower())
        for c in canvas.all_channels(include_retired=True)
    ]


def _writes(canvas: FakeCanvas) -> int:
    return sum(1 for r in canvas.requests if r.method in ("POST", "DELETE"))


def _post_target(record: Any) -> tuple[int, str]:
    user = int(record.path.split("/")[4])
    form = parse_qs(record.body.decode())
    return user, form["communication_channel[address]"][0].lower()


@pytest.fixture
def chaos_canvas(monkeypatch: pytest.MonkeyPatch) -> Any:
    with FakeCanvas(seed_demo=False, latency=0.002) as canvas:
        monkeypatch.setattr(CanvasHook, "retry_base_delay", 0.01)
        monkeypatch.setenv(
            "AIRFLOW_CONN_CANVAS_DEFAULT",
            canvas.connection_json(max_retries=3, timeout=0.5, max_concurrency=16),
        )
        yield canvas


def _plan_entries(path: Any) -> dict[int, dict[str, Any]]:
    """The plan file's user lines, by Canvas user id (every user here is named by its numeric id)."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return {int(line["user"]): line for line in lines if line["kind"] == "user"}


def _accounted(entry: dict[str, Any], action: str) -> set[str]:
    """Addresses the plan file says were not done for ``action`` (failed, held, or not attempted)."""
    undone = {f.get("address") for f in entry.get("failed", []) if f["action"] == action}
    undone |= {i["address"] for i in entry.get("not_attempted", []) if i["action"] in (action, "list")}
    if action == "delete":
        undone |= {h["address"] for h in entry.get("held", [])}
    return {a.lower() for a in undone if a}


def test_sync_survives_chaos_and_an_interruption(chaos_canvas: FakeCanvas, tmp_path: Any) -> None:
    canvas = chaos_canvas
    users = canvas.add_users(USERS, prefix="chaos")
    desired: dict[int, list[str]] = {}
    stale: set[tuple[int, str]] = set()
    for i, user in enumerate(users):
        sis = f"chaos{i + 1:06d}"
        wanted = [f"{sis}@school.example.edu"]
        if i % 5 == 0:
            wanted.append(f"{sis}.alt@example.edu")
        desired[user] = wanted
        group = i % 4
        if group == 0:  # already right
            canvas.add_channel(user, "email", wanted[0])
        if group in (1, 3):  # an address to retire
            canvas.add_channel(user, "email", f"old-{sis}@example.edu")
            stale.add((user, f"old-{sis}@example.edu"))
        if group == 3:  # already right, in another case (Canvas matches case-insensitively)
            canvas.add_channel(user, "email", wanted[0].upper())
    bystanders = canvas.add_users(BYSTANDERS, prefix="bystander")
    for user in bystanders:
        canvas.add_channel(user, "email", f"keep-{user}@example.edu")
    initial_rows = Counter(_rows(canvas))
    initial_live = _live(canvas)
    wanted_pairs = {(user, address.lower()) for user, addresses in desired.items() for address in addresses}
    to_create = {(u, a) for u, a in wanted_pairs if a not in initial_live.get(u, set())}

    plan_path = tmp_path / "plan.jsonl"

    def sync(ti: RecordingTaskInstance) -> dict[str, Any]:
        return CanvasSyncCommunicationChannelsOperator(
            task_id="sync",
            desired=desired,
            mode="mirror",
            manage=["example.edu"],
            max_deletes=0.6,
            skip_confirmation=True,
            plan_path=str(plan_path),
        ).execute({"ti": ti})

    # ----- run 1: random faults, then Canvas becomes unreachable part-way through the writes -----
    canvas.inject_random(rate=FAULT_RATE, faults=CHAOS_FAULTS, seed=20240501)
    done = threading.Event()
    writes_at_cut: list[int] = []

    def cut_the_network() -> None:
        while not done.is_set():
            if _writes(canvas) >= OUTAGE_AFTER_WRITES:
                canvas.inject(Fault.reset(), times=10**9)
                # Counted after the fault is armed: the writes between crossing the mark and arming it (more
                # on a loaded machine, where this thread wakes late) came before the outage.
                writes_at_cut.append(_writes(canvas))
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=cut_the_network, daemon=True)
    watcher.start()
    first = RecordingTaskInstance()
    started = time.monotonic()
    try:
        with pytest.raises(
            AirflowException, match=r"stopped after \d+ request\(s\): Canvas could not be reached"
        ):
            sync(first)
    finally:
        done.set()
        watcher.join()
    first_seconds = time.monotonic() - started
    report = first.pushed["return_value"]
    first_stats = canvas.stats
    entries = _plan_entries(plan_path)

    live = _live(canvas)
    created_now = {(u, a) for u, a in to_create if a in live.get(u, set())}
    deleted_now = {(u, a) for u, a in stale if a not in live.get(u, set())}
    assert created_now, "the interruption must come part-way, after some writes"
    assert report["not_attempted"] > 0, "the stop must leave work undone"
    # Stopped at once: after the outage, only what was in flight was still tried.
    (cut,) = writes_at_cut
    assert _writes(canvas) - cut < 16 * 5, "writes went on after Canvas became unreachable"
    # Nobody who had a live address lost all of them (creates come before retires, per user).
    for user in initial_live:
        assert live.get(user), f"user {user} was left with no address"
    # Nothing lost silently: every item not done is in the plan file.
    for user, address in to_create - created_now:
        assert address in _accounted(entries.get(user, {}), "create"), (user, address)
    for user, address in stale - deleted_now:
        assert address in _accounted(entries.get(user, {}), "delete"), (user, address)
    # Nothing claimed that did not happen.
    assert report["created"] <= len(created_now)
    assert report["deleted"] <= len(deleted_now)

    # ----- run 2: the network is back (the random faults are not) -----
    canvas.clear_faults()
    canvas.inject_random(rate=FAULT_RATE, faults=CHAOS_FAULTS, seed=20240502)
    second = RecordingTaskInstance()
    started = time.monotonic()
    again = sync(second)
    second_seconds = time.monotonic() - started
    assert again["failed"] == 0
    assert again["created"] <= len(to_create - created_now)

    # The end state is the desired state; bystanders are untouched.
    live = _live(canvas)
    for user, addresses in desired.items():
        assert live.get(user, set()) == {a.lower() for a in addresses}, f"user {user}"
    for user in bystanders:
        assert live[user] == initial_live[user]
    # No address was created twice: not in the rows (retired included) ...
    rows = Counter(_rows(canvas))
    assert [row for row, n in rows.items() if n > 1] == []
    new_rows = rows - initial_rows
    assert {(u, a) for u, _, a in new_rows} == to_create
    # ... and not in the request log: Canvas answered at most one create per address with 200.
    posts = [r for r in canvas.requests if r.method == "POST"]
    answered = Counter(_post_target(r) for r in posts if r.status == 200 and r.fault is None)
    assert [pair for pair, n in answered.items() if n > 1] == []
    assert set(answered) <= to_create

    stats = canvas.stats
    assert stats.throttled > 0 and stats.faults > 0
    print(
        f"\nchaos: {USERS} users, {len(to_create)} creates, {len(stale)} deletes; "
        f"run 1 {first_seconds:.1f}s: {report['created']} created, {report['deleted']} deleted, "
        f"{report['unchanged']} unchanged, {report['failed']} failed (reported), faults {first_stats.faults} "
        f"(outage included), throttled {first_stats.throttled}; run 2 {second_seconds:.1f}s: "
        f"{again['created']} created, {again['deleted']} deleted, {again['unchanged']} unchanged; "
        f"total requests {stats.requests}, faults {stats.faults}, throttled {stats.throttled}, "
        f"POSTs {len(posts)} ({sum(answered.values())} answered 200, "
        f"{sum(1 for r in posts if r.status == 400)} 'already exists'), new rows {sum(new_rows.values())}"
    )
