"""Every bound holds against a hostile server, for the sync hook, the async hook, the trigger and bulk calls.

The cases are the data in ``cases.py`` (also the "Hostile servers" table of docs/reliability.md). Each
call meets the hostile answer for user 7 only; the bulk calls must still return user 8's ordinary result.
Memory is bounded by construction (the body is refused as it streams); the tests assert on the error,
the time taken, and how much the server could send before the client hung up; one test measures the
Python heap at the default limit.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from typing import Any

import pytest
from reliability.test_token_safety import first_event

from airflow_provider_canvas.exceptions import CanvasError
from airflow_provider_canvas.hooks._bulk import ChannelChange
from airflow_provider_canvas.hooks.canvas import CanvasHook
from airflow_provider_canvas.hooks.canvas_async import CanvasAsyncHook
from airflow_provider_canvas.triggers.communication_channels import CanvasCommunicationChannelTrigger
from airflow_provider_canvas.wire.config import DEFAULT_MAX_PAGES, DEFAULT_MAX_RESPONSE_BYTES
from hostile.cases import (
    BOMB_DECODED,
    HOSTILE,
    HOSTILE_USER,
    ORDINARY_USER,
    Hostile,
    endless_pages,
    for_user_7,
    gzip_bomb,
    odd_rate_limit_headers,
    ordinary,
)
from hostile.conftest import TOKEN


def call(name: str) -> Any:
    """Run one call against ``canvas_default``; returns the hostile user's result (a value or an error)."""
    if name == "hook":
        try:
            return CanvasHook().list_communication_channels(HOSTILE_USER)
        except CanvasError as error:
            return error
    if name == "async hook":
        try:
            return asyncio.run(CanvasAsyncHook().alist_communication_channels(HOSTILE_USER))
        except CanvasError as error:
            return error
    if name == "trigger":
        return first_event(
            CanvasCommunicationChannelTrigger(
                user_id=HOSTILE_USER, target_state="present", channel_type="email", address="u7-1@example.edu"
            )
        )
    hook = CanvasHook()
    if name == "bulk listing":
        results = dict(hook.iter_communication_channels_for_users([HOSTILE_USER, ORDINARY_USER]))
        assert isinstance(results[ORDINARY_USER], list), results[ORDINARY_USER]  # the other user is unharmed
        assert [c["user_id"] for c in results[ORDINARY_USER]] == [ORDINARY_USER]
        return results[HOSTILE_USER]
    changes = [
        ChannelChange("create", str(user), "email", f"new{user}@example.edu")
        for user in (HOSTILE_USER, ORDINARY_USER)
    ]
    outcomes = {
        int(change.user_id): result for change, result in hook.apply_communication_channel_changes(changes)
    }
    assert isinstance(outcomes[ORDINARY_USER], dict), outcomes[ORDINARY_USER]
    return outcomes[HOSTILE_USER]


CELLS = [pytest.param(case, name, id=f"{case.id}-{name}") for case in HOSTILE for name in case.calls]


@pytest.mark.parametrize(("case", "name"), CELLS)
def test_bound_holds(case: Hostile, name: str, hostile):
    server = hostile(case.behaviour, **case.settings)
    started = time.monotonic()
    result = call(name)
    elapsed = time.monotonic() - started
    assert elapsed < case.seconds, f"took {elapsed:.1f}s"
    if case.outcome == "works":
        assert not isinstance(result, CanvasError), result
        if name == "trigger":
            assert result["status"] == "success", result
        return
    if name == "trigger":
        assert (result["status"], result["error_type"]) == ("error", case.outcome), result
        text = result["summary"] + " ".join(result["messages"])
    else:
        assert type(result).__name__ == case.outcome, repr(result)
        text = str(result)
    assert case.says in text, text
    assert TOKEN not in text
    assert server.requests, "the server was asked"


def test_a_bomb_or_endless_body_is_left_unread(hostile):
    """The client hangs up at the limit: the server gets only as far as the socket buffers let it."""
    server = hostile(for_user_7(gzip_bomb), max_response_bytes=64 * 1024)
    assert "max_response_bytes" in str(call("hook"))
    server.stop()  # waits for the sending thread, which stops when the client has gone
    assert server.bytes_sent < BOMB_DECODED // 1024 // 5, server.bytes_sent  # a fifth of the wire size


@pytest.mark.parametrize("name", ["hook", "async hook"])
def test_a_bomb_at_the_default_limit_stays_within_it(name, hostile):
    """At the default 16 MiB, the Python heap never holds much more than the limit (it held 2-3 GB)."""
    hostile(for_user_7(gzip_bomb))
    tracemalloc.start()
    try:
        result = call(name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "max_response_bytes" in str(result)
    assert peak < DEFAULT_MAX_RESPONSE_BYTES * 1.5 + 4 * 1024**2, f"peak {peak / 2**20:.1f} MiB"


def test_pagination_stops_at_the_default_max_pages(hostile):
    server = hostile(for_user_7(endless_pages), per_page=1)
    with pytest.raises(CanvasError, match="max_pages") as info:
        CanvasHook().list_communication_channels(HOSTILE_USER)
    assert len(server.requests) == DEFAULT_MAX_PAGES
    assert f"past {DEFAULT_MAX_PAGES:,} pages" in str(info.value)


def test_after_odd_rate_limit_headers_valid_answers_work_in_the_same_process(hostile):
    """One NaN used to break every later call on the token, even from a new CanvasHook()."""
    answers = iter(["nan", "inf", "-inf", "1e999", "-5", "garbage"])

    def behaviour(request, conn):
        value = next(answers, "550")
        ordinary(request, conn, [("X-Rate-Limit-Remaining", value), ("X-Request-Cost", value)])

    hostile(behaviour)
    first = CanvasHook()
    for _ in range(6):
        assert first.list_communication_channels(HOSTILE_USER)[0]["user_id"] == HOSTILE_USER
    assert first.rate_limit.remaining is None  # nothing usable was seen yet
    second = CanvasHook()
    for _ in range(10):
        assert second.list_communication_channels(HOSTILE_USER)
    assert second.governor is first.governor  # one governor per token in the process
    assert second.rate_limit.remaining == 550.0
    assert list(second.governor._estimates) == [11.0] * 10  # it reads the valid answers: room for 11
    assert second.governor.limit > 2  # and climbs from its starting limit


def test_bulk_apply_counts_creates_answered_with_nan_headers_as_created(hostile):
    hostile(for_user_7(odd_rate_limit_headers("nan")))
    changes = [ChannelChange("create", str(HOSTILE_USER), "email", f"n{n}@example.edu") for n in range(40)]
    results = [result for _, result in CanvasHook().apply_communication_channel_changes(changes)]
    assert len(results) == 40 and all(isinstance(r, dict) for r in results), results[:3]
