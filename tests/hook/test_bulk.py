"""The throttle-aware bulk calls over real HTTP against the fake Canvas."""

from __future__ import annotations

import pytest

from airflow_provider_canvas.exceptions import CanvasInputError, CanvasNotFoundError
from airflow_provider_canvas.hooks.canvas import ChannelChange
from airflow_provider_canvas.testing import Fault


def test_bulk_list_returns_every_user_and_errors_as_values(fake_canvas, make_hook, captured_logs):
    users = fake_canvas.add_users(60, prefix="bulk")
    for user in users[:30]:
        fake_canvas.add_channel(user, "email", f"b{user}@example.edu")
    hook = make_hook(max_concurrency=6)
    hook.progress_interval = 0.0  # a progress line after every item
    wanted = [*users, 99_999_999, "sis_user_id:missing", "not/an/id"]

    results = dict(hook.iter_communication_channels_for_users(wanted))

    assert set(results) == set(wanted)
    for user in users:
        expected = [f"b{user}@example.edu"] if user in users[:30] else []
        assert [c["address"] for c in results[user]] == expected
    assert isinstance(results[99_999_999], CanvasNotFoundError)
    assert isinstance(results["sis_user_id:missing"], CanvasNotFoundError)
    assert isinstance(results["not/an/id"], CanvasInputError)
    progress = [m for m in captured_logs.messages("info") if m.startswith("Canvas list channels:")]
    assert progress
    assert "63/63 (100%)" in progress[-1]
    assert "req/s" in progress[-1]
    assert not [m for m in captured_logs.messages("info") if m.startswith("Canvas GET")]  # per-request: DEBUG


def test_bulk_list_retries_throttling_and_loses_nothing(fake_canvas, make_hook):
    users = fake_canvas.add_users(80, prefix="thr")
    fake_canvas.inject_random(rate=0.1, faults=[Fault.throttle(), Fault.status(503)], seed=7)
    hook = make_hook(max_concurrency=8, max_retries=8)
    results = dict(hook.iter_communication_channels_for_users(iter(users)))
    assert set(results) == set(users)
    assert all(result == [] for result in results.values())
    assert fake_canvas.stats.throttled > 0


def test_bulk_list_never_exceeds_max_concurrency(fake_canvas, make_hook):
    fake_canvas.latency = 0.05
    users = fake_canvas.add_users(40, prefix="cap")
    hook = make_hook()
    list(hook.iter_communication_channels_for_users(users, max_concurrency=3))
    assert hook.governor.peak_in_flight <= 3
    assert fake_canvas.stats.max_in_flight <= 3


@pytest.mark.parametrize("bad", [0, 65, -1, 2.5, True, "8"])
def test_bulk_max_concurrency_is_checked_before_any_request(fake_canvas, hook, bad):
    fake_canvas.clear_requests()
    with pytest.raises(ValueError, match="max_concurrency"):
        hook.iter_communication_channels_for_users([1], max_concurrency=bad)
    assert fake_canvas.requests == []


def test_apply_changes_creates_and_deletes_concurrently(fake_canvas, make_hook):
    users = fake_canvas.add_users(10, prefix="apply")
    old = [fake_canvas.add_channel(user, "email", f"old{user}@example.edu") for user in users]
    changes = [ChannelChange("create", str(u), "email", f"new{u}@example.edu") for u in users]
    changes += [ChannelChange("delete", str(c["user_id"]), "email", str(c["address"]), c["id"]) for c in old]
    changes.append(ChannelChange("delete", str(users[0]), "email", "ghost@example.edu"))
    results = dict(make_hook().apply_communication_channel_changes(changes, skip_confirmation=True))
    assert isinstance(results[changes[-1]], CanvasNotFoundError)
    for user in users:
        assert [(c["address"], c["workflow_state"]) for c in fake_canvas.channels(user)] == [
            (f"new{user}@example.edu", "active")
        ]
