"""The fault matrix: every public call of the provider x every failure Canvas (or the network) produces.

One table-driven test over the cross product of ``CALLS`` x ``FAULTS``, against the bundled fake Canvas
over real HTTP. Each cell declares its outcome in ``MATRIX`` (the same data ``docs/reliability.md`` is
generated from, by ``scripts/reliability_report.py``):

* ``recovered``: the call returns what it returns without the fault, the fake ends in the state the call
  asks for, nothing is doubled, and every injected fault was met (so the retries really happened);
* ``n/a``: the fault cannot apply to this call (a Link fault on a call that reads no list); the fault is
  armed and shown never to be consumed, and the call behaves as without it;
* an error class: exactly that class is raised (the bulk listing returns it as the user's value; the sync
  operator fails the task and lists the item in its report), clearly worded and without the token, no
  request reaches the foreign host, and nothing is half-applied.

Every call runs against a connection with ``max_retries=2`` and ``timeout=0.3`` s, so transient faults are
injected at most twice (one attempt to spare), the ``... outlives retries`` rows three times, and stalls
cost 0.3 s each. A new fault or call is one entry in ``FAULTS`` or ``CALLS``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest

from airflow_provider_canvas._compat import AirflowException, AirflowFailException, TaskDeferred
from airflow_provider_canvas.exceptions import (
    CanvasConnectionError,
    CanvasError,
    CanvasNotFoundError,
    CanvasRateLimitError,
    CanvasResponseError,
    CanvasServerError,
    CanvasTimeoutError,
)
from airflow_provider_canvas.hooks.canvas import CanvasHook
from airflow_provider_canvas.operators.communication_channels import (
    CanvasCreateCommunicationChannelOperator,
    CanvasDeleteCommunicationChannelOperator,
    CanvasDeletePushTokenOperator,
    CanvasListCommunicationChannelsOperator,
    CanvasSyncCommunicationChannelsOperator,
)
from airflow_provider_canvas.sensors.communication_channels import CanvasCommunicationChannelSensor
from airflow_provider_canvas.testing import FakeCanvas, Fault
from airflow_provider_canvas.triggers.communication_channels import CanvasCommunicationChannelTrigger

__all__ = ["CALLS", "FAULTS", "MATRIX", "Cell", "Expect"]

MAX_RETRIES = 2  # the connection's max_retries in every cell: three attempts in all
TIMEOUT = 0.3  # the connection's timeout (seconds): a stall costs this much
PER_PAGE = 2  # so a user with three channels is a two-page list
STALL_SECONDS = 5.0  # how long the fake holds a stalled request: far past TIMEOUT (ends early at stop)
PUSH_TOKEN = "matrix-device-push-token-0123456789abcdef"

RECOVERED = "recovered"
NOT_APPLICABLE = "n/a"
ERROR = "error"


# ----- the matrix as data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What one cell asserts: ``recovered``, ``n/a`` or ``error`` (with the exact class)."""

    outcome: Literal["recovered", "n/a", "error"]
    error: type[BaseException] | None = None
    note: str = ""
    # For errors: whether the requested change was nevertheless made (by an earlier, ambiguous attempt).
    applied: bool = False
    # For errors: words the message must contain (case-insensitive).
    says: str = ""

    @property
    def label(self) -> str:
        return self.error.__name__ if self.error is not None else self.outcome


def recovered(note: str) -> Expect:
    return Expect(RECOVERED, note=note)


def not_applicable(note: str) -> Expect:
    return Expect(NOT_APPLICABLE, note=note)


def error(cls: type[BaseException], note: str, *, applied: bool = False, says: str = "") -> Expect:
    return Expect(ERROR, cls, note, applied, says)


Family = Literal["control", "transient", "ambiguous", "link", "redirect", "persistent"]


@dataclass(frozen=True)
class FaultCase:
    """One kind of failure: how to build it (given the foreign host's origin), how often, and its outcome.

    ``expect`` holds for every call unless ``overrides`` names the call. Link faults only apply to calls
    that read a list; for the others the cell is ``n/a`` automatically.
    """

    name: str
    label: str
    family: Family
    make: Callable[[str], Fault] | None
    times: int
    expect: Expect
    overrides: dict[str, Expect] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The label with how many times in a row the fault is injected."""
        return self.label if self.make is None else f"{self.label} x{self.times}"


_AMBIGUOUS_DELETE = error(
    CanvasNotFoundError,
    "the first attempt retired the channel; the retry's 404 is raised (missing_ok=False), saying an earlier "
    "attempt may have retired it",
    applied=True,
    says="may have retired the channel",
)
_AMBIGUOUS_SYNC = recovered(
    "the create's retry returns the channel its first attempt made, and the delete's retry hears 404 after "
    "an ambiguous first attempt: both are counted done (created, deleted), not unchanged"
)
_TRANSIENT = "retried with backoff; the last attempt succeeds"
_BODY = "a 2xx whose body is not JSON is retried like a dropped connection"

FAULTS: list[FaultCase] = [
    FaultCase("none", "no fault (control)", "control", None, 0, recovered("the call as it behaves normally")),
    FaultCase(
        "http_500",
        "500 (Canvas JSON error)",
        "transient",
        lambda _: Fault.status(500),
        2,
        recovered(_TRANSIENT),
    ),
    FaultCase(
        "http_502", "502 (proxy HTML)", "transient", lambda _: Fault.status(502), 2, recovered(_TRANSIENT)
    ),
    FaultCase(
        "http_503", "503 (proxy HTML)", "transient", lambda _: Fault.status(503), 2, recovered(_TRANSIENT)
    ),
    FaultCase(
        "http_504", "504 (proxy HTML)", "transient", lambda _: Fault.status(504), 2, recovered(_TRANSIENT)
    ),
    FaultCase(
        "throttle_403",
        "throttled: 403 `Rate Limit Exceeded` (plain text)",
        "transient",
        lambda _: Fault.throttle(),
        2,
        recovered("Canvas's throttle answer is recognised by its plain-text body and retried"),
    ),
    FaultCase(
        "throttle_429",
        "throttled: 429",
        "transient",
        lambda _: Fault.throttle(429),
        2,
        recovered("429 is throttling too, retried"),
    ),
    FaultCase(
        "reset",
        "connection reset (before Canvas runs)",
        "transient",
        lambda _: Fault.reset(),
        2,
        recovered(_TRANSIENT),
    ),
    FaultCase(
        "reset_after",
        "connection reset after Canvas ran the request (ambiguous)",
        "ambiguous",
        lambda _: Fault.reset(after_processing=True),
        2,
        recovered(
            "retried; a create whose retry meets 'already exists' returns the channel its first attempt made"
        ),
        overrides={
            "delete_by_id": _AMBIGUOUS_DELETE,
            "delete_by_address": _AMBIGUOUS_DELETE,
            "sync": _AMBIGUOUS_SYNC,
        },
    ),
    FaultCase(
        "stall",
        f"stall past the {TIMEOUT:g} s timeout",
        "transient",
        lambda _: Fault.stall(STALL_SECONDS),
        1,
        recovered("the read timeout is retried"),
    ),
    FaultCase(
        "stall_after",
        "stall past the timeout after Canvas ran the request (ambiguous)",
        "ambiguous",
        lambda _: Fault.stall(STALL_SECONDS, after_processing=True),
        1,
        recovered("the read timeout is retried; a retried create returns its own channel"),
        overrides={
            "delete_by_id": _AMBIGUOUS_DELETE,
            "delete_by_address": _AMBIGUOUS_DELETE,
            "sync": _AMBIGUOUS_SYNC,
        },
    ),
    FaultCase(
        "malformed_json",
        "200 with malformed JSON",
        "transient",
        lambda _: Fault.malformed_json(),
        2,
        recovered(_BODY),
    ),
    FaultCase(
        "truncated_body",
        "200 with a truncated body",
        "transient",
        lambda _: Fault.truncated_body(),
        2,
        recovered(_BODY),
    ),
    FaultCase(
        "empty_body",
        "200 with an empty body",
        "transient",
        lambda _: Fault.empty_body(),
        2,
        recovered(_BODY),
    ),
    FaultCase(
        "link_loop",
        "Link `next` pointing at the page itself",
        "link",
        lambda _: Fault.link_loop(),
        1,
        error(
            CanvasResponseError,
            "a pagination loop cannot be completed: refused, rather than returning repeated or missing items",
        ),
    ),
    FaultCase(
        "foreign_next",
        "Link `next` to another host",
        "link",
        lambda foreign: Fault.foreign_next(host=foreign),
        1,
        error(
            CanvasResponseError,
            "refused before any request; the other host receives nothing",
            says="Refused to follow a pagination link",
        ),
    ),
    FaultCase(
        "downgrade_next",
        "Link `next` on another scheme (https -> http downgrade)",
        "link",
        lambda _: Fault.downgrade_next(),
        1,
        error(
            CanvasResponseError,
            "the fake serves http, so its link flips to https: the same rule (a next link on another scheme "
            "is refused) that refuses https -> http against a real Canvas; refused before any request",
            says="Refused to follow a pagination link",
        ),
    ),
    FaultCase(
        "redirect",
        "302 redirect to another host",
        "redirect",
        lambda foreign: Fault.redirect(foreign + "/api/v1/users/self"),
        1,
        error(
            CanvasResponseError,
            "redirects are never followed with the token; the other host receives nothing",
            says="Redirects are not followed",
        ),
    ),
    FaultCase(
        "http_503_persistent",
        "503 on every attempt (outlives the retries)",
        "persistent",
        lambda _: Fault.status(503),
        MAX_RETRIES + 1,
        error(CanvasServerError, "after max_retries + 1 attempts; nothing was applied", says="answered 503"),
    ),
    FaultCase(
        "throttle_persistent",
        "throttled on every attempt (outlives the retries)",
        "persistent",
        lambda _: Fault.throttle(),
        MAX_RETRIES + 1,
        error(
            CanvasRateLimitError,
            "after max_retries + 1 attempts; the message hints at lowering the concurrency",
            says="Lower the concurrency",
        ),
    ),
    FaultCase(
        "reset_persistent",
        "connection reset on every attempt (outlives the retries)",
        "persistent",
        lambda _: Fault.reset(),
        MAX_RETRIES + 1,
        error(CanvasConnectionError, "after max_retries + 1 attempts", says="Could not reach Canvas"),
    ),
    FaultCase(
        "stall_persistent",
        "stall past the timeout on every attempt (outlives the retries)",
        "persistent",
        lambda _: Fault.stall(STALL_SECONDS),
        MAX_RETRIES + 1,
        error(CanvasTimeoutError, "after max_retries + 1 attempts", says="timed out"),
    ),
]


# ----- the calls ----------------------------------------------------------------------------------------


class RecordingTaskInstance:
    """Just enough of a task instance for ``execute()``: records what an operator pushes to XCom."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


Row = tuple[int, str, str, str]  # user id, type, address (lower case), workflow_state


@dataclass(frozen=True)
class State:
    """What the fake holds: every channel row (retired ones too) and the admin's push endpoints."""

    rows: tuple[Row, ...]
    endpoints: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, canvas: FakeCanvas) -> State:
        rows = sorted(
            (int(str(c["user_id"])), str(c["type"]), str(c["address"]).lower(), str(c["workflow_state"]))
            for c in canvas.all_channels(include_retired=True)
        )
        endpoints = sorted(
            (str(e["token"]), str(e["workflow_state"])) for e in canvas.push_endpoints(canvas.admin_user_id)
        )
        return cls(tuple(rows), tuple(endpoints))

    def with_rows(self, remove: Sequence[Row] = (), add: Sequence[Row] = ()) -> State:
        rows = list(self.rows)
        for row in remove:
            rows.remove(row)
        return State(tuple(sorted([*rows, *add])), self.endpoints)

    def user(self, user_id: int) -> list[Row]:
        return [row for row in self.rows if row[0] == user_id]


@dataclass
class World:
    """One cell's fake Canvas, the foreign host, the task instance and the ids its call's setup made."""

    canvas: FakeCanvas
    foreign: FakeCanvas
    tmp: Path
    ti: RecordingTaskInstance = field(default_factory=RecordingTaskInstance)
    ids: dict[str, Any] = field(default_factory=dict)

    @property
    def context(self) -> dict[str, Any]:
        return {"ti": self.ti}


def _list_path(user_id: object) -> str:
    return rf"/users/{user_id}/communication_channels$"


class Call:
    """One public call of the provider, set up in a fresh fake Canvas.

    ``surface`` says how its errors arrive: ``raises``; ``value`` (returned per user by the bulk listing);
    ``report`` (the sync operator collects per-item failures and fails the task at the end).
    """

    name: ClassVar[str]
    label: ClassVar[str]
    list_shaped: ClassVar[bool] = False
    surface: ClassVar[Literal["raises", "value", "report"]] = "raises"

    def setup(self, w: World) -> None:
        raise NotImplementedError

    def selectors(self, w: World, family: Family) -> list[dict[str, str]]:
        """Which requests a fault is armed for (method and path regex); each gets the fault ``times`` times."""
        raise NotImplementedError

    def run(self, w: World) -> Any:
        raise NotImplementedError

    def summary(self, result: Any) -> Any:
        return result

    def expected_summary(self, w: World) -> Any:
        raise NotImplementedError

    def expected_state(self, w: World, before: State) -> State:
        return before  # reads change nothing


class ListCall(Call):
    name = "list"
    label = "list (multi-page)"
    list_shaped = True

    def setup(self, w: World) -> None:
        user = w.ids["user"] = w.canvas.add_user("Matrix List")
        for n in (1, 2, 3):
            w.canvas.add_channel(user, "email", f"list{n}@example.edu")

    def selectors(self, w: World, family: Family) -> list[dict[str, str]]:
        return [{"method": "GET", "path": _list_path(w.ids["user"])}]

    def run(self, w: World) -> Any:
        op = CanvasListCommunicationChannelsOperator(task_id="list", user_id=w.ids["user"])
        try:
            return op.execute(w.context)
        finally:
            op.hook.close()

    def summary(self, result: Any) -> Any:
        return [c["address"] for c in result]

    def expected_summary(self, w: World) -> Any:
        return ["list1@example.edu", "list2@example.edu", "list3@example.edu"]


class CreateCall(Call):
    name = "create"
    label = "create"

    def setup(self, w: World) -> None:
        user = w.ids["user"] = w.canvas.add_user("Matrix Create")
        w.canvas.add_channel(user, "email", "existing@example.edu")

    def selectors(self, w: World, family: Family) -> list[dict[str, str]]:
        if family == "link":
            return [{"method": "GET", "path": _list_path(w.ids["user"])}]
        return [{"method": "POST", "path": _list_path(w.ids["user"])}]

    def run(self, w: World) -> Any:
        op = CanvasCreateCommunicationChannelOperator(
            task_id="create", user_id=w.ids["user"], address="new@example.edu"
        )
        try:
            return op.execute(w.context), w.ti.pushed.get("outcome")
        finally:
            op.hook.close()

    def summary(self, result: Any) -> Any:
        channel, outcome = result
        return channel["address"], channel["workflow_state"], outcome

    def expected_summary(self, w: World) -> Any:
        return "new@example.edu", "unconfirmed", "created"

    def expected_state(self, w: World, before: State) -> State:
        return before.with_rows(add=[(w.ids["user"], "email", "new@example.edu", "unconfirmed")])


class DeleteByIdCall(Call):
    name = "delete_by_id"
    label = "delete by id"

    def setup(self, w: World) -> None:
        user = w.ids["user"] = w.canvas.add_user("Matrix Delete")
        w.canvas.add_channel(user, "email", "keep@example.edu")
        w.ids["channel"] = w.canvas.add_channel(user, "email", "gone@example.edu")["id"]

    def selectors(self, w: World, family: Family) -> list[dict[str, str]]:
        if family == "link":
            return [{"method": "GET", "path": _list_path(w.ids["user"])}]
        return [{"method": "DELETE", "path": rf"/users/{w.ids['user']}/communication_channels/"}]

    def _operator(self, w: World) -> CanvasDeleteCommunicationChannelOperator:
        return CanvasDeleteCommunicationChannelOperator(
            task_id="delete", user_id=w.ids["user"], channel_id=w.ids["channel"]
        )

    def run(self, w: World) -> Any:
        op = self._operator(w)
        try:
            return op.execute(w.context)
        finally:
            op.hook.close()

    def summary(self, result: Any) -> Any:
        return result["address"], result["workflow_state"]

    def expected_summary(self, w: World) -> Any:
        return "gone@example.edu", "retired"

    def expected_state(self, w: World, before: State) -> State:
        user = w.ids["user"]
        return before.with_rows(
            remove=[(user, "email", "gone@example.edu", "active")],
            add=[(user, "email", "gone@example.edu", "retired")],
        )


class DeleteByAddressCall(DeleteByIdCall):
    name = "delete_by_address"
    label = "delete by address"

    def _operator(self, w: World) -> CanvasDeleteCommunicationChannelOperator:
        # Canvas matches addresses case-insensitively; so does the route.
        return CanvasDeleteCommunicationChannelOperator(
            task_id="delete", user_id=w.ids["user"], channel_type="email", address="Gone@Example.edu"
        )


class DeletePushTokenCall(Call):
    name = "delete_push_token"
    label = "delete push token"

    def setup(self, w: World) -> None:
        hook = CanvasHook()
        try:  # over HTTP: the fake registers the device's endpoint only through the API
            hook.create_communication_channel("self", channel_type="push", token=PUSH_TOKEN)
        finally:
            hook.close()

    def selectors(self, w: World, family: Family) -> list[dict[str, str]]:
        if family == "link":
            return [{"method": "GET", "path": _list_path("self")}]
        return [{"method": "DELETE", "path": r"/users/self/communication_channels/push$"}]

    def run(self, w: World) -> Any:
        return CanvasDeletePushTokenOperator(task_id="unpush", push_token=PUSH_TOKEN).execute(w.context)

    def expected_summary(self, w: World) -> Any:
        return {"success": True}

    def expected_state(self, w: World, before: State) -> State:
        assert before.endpoints == ((PUSH_TOKEN, "active"),)
        return State(before.rows, ((PUSH_TOKEN, "deleted"),))


class SensorPokeCall(Call):
    name = "sensor_poke"
    label = "sensor (poke)"
    list_shaped = True

    def setup(self, w: World) -> None:
        user = w.ids["user"] = w.canvas.add_user("Matrix Sensor")
        w.canvas.add_channel(user, "email", "first@example.edu")
        w.canvas.add_channel(user, "email", "second@example.edu")
        # The watched channel is on page 2, so a broken Link on page 1 matters.
        watched = w.canvas.add_channel(user, "email", "watched@example.edu", workflow_state="unconfirmed")
        w.ids["watched"] = watched["id"]

    def selectors(self, w: World, family: Family) -> list[dict[str, str]]:
        return [{"method": "GET", "path": _list_path(w.ids["user"])}]

    def _sensor(
        self, w: World, *, deferrable: bool, target_state: str = "present"
    ) -> CanvasCommunicationChannelSensor:
        return CanvasCommunicationChannelSensor(
            task_id="wait",
            user_id=w.ids["user"],
            address="watched@example.edu",
            target_state=target_state,
            deferrable=deferrable,
            poke_interval=0.05,
            timeout=20,
        )

    def run(self, w: World) -> Any:
        sensor = self._sensor(w, deferrable=False)
        try:
            return sensor.poke(w.context)
        finally:
            sensor.hook.close()

    def summary(self, result: Any) -> Any:
        return result.is_done, (result.xcom_value or {}).get("address")

    def expected_summary(self, w: World) -> Any:
        return True, "watched@example.edu"


class SensorDeferredCall(SensorPokeCall):
    """The deferrable sensor waiting for ``active``: its first look runs in the worker (and meets the fault);
    the channel is still unconfirmed, so it defers; the user confirms, and the trigger (restored as the
    triggerer would) sees it."""

    name = "sensor_deferred"
    label = "sensor (deferred)"

    def run(self, w: World) -> Any:
        sensor = self._sensor(w, deferrable=True, target_state="active")
        try:
            sensor.execute(w.context)
        except TaskDeferred as deferred:
            trigger, method_name = _as_restored_by_the_triggerer(deferred.trigger), deferred.method_name
        else:
            raise AssertionError("a deferrable sensor must defer while the channel is unconfirmed")
        assert method_name == "execute_complete"
        w.canvas.confirm(w.ids["watched"])
        event = asyncio.run(asyncio.wait_for(_first_event(trigger), 20))
        return sensor.execute_complete(w.context, event)

    def summary(self, result: Any) -> Any:
        return result["address"], result["workflow_state"]

    def expected_summary(self, w: World) -> Any:
        return "watched@example.edu", "active"

    def expected_state(self, w: World, before: State) -> State:
        row = (w.ids["user"], "email", "watched@example.edu")
        return before.with_rows(remove=[(*row, "unconfirmed")], add=[(*row, "active")])


class TriggerCall(SensorDeferredCall):
    """The trigger itself, as the sensor builds it and the triggerer restores it: every request is its own."""

    name = "trigger"
    label = "trigger"

    def run(self, w: World) -> Any:
        sensor = self._sensor(w, deferrable=True)
        trigger = _as_restored_by_the_triggerer(
            CanvasCommunicationChannelTrigger(
                **sensor._target(), poke_interval=0.05, timeout_at=time.time() + 20
            )
        )
        event = asyncio.run(asyncio.wait_for(_first_event(trigger), 20))
        return sensor.execute_complete(w.context, event)

    def expected_summary(self, w: World) -> Any:
        return "watched@example.edu", "unconfirmed"

    def expected_state(self, w: World, before: State) -> State:
        return before  # reads change nothing


def _as_restored_by_the_triggerer(trigger: Any) -> Any:
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))


async def _first_event(trigger: Any) -> dict[str, Any]:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


class BulkListCall(Call):
    name = "bulk_list"
    label = "bulk listing"
    list_shaped = True
    surface = "value"

    def setup(self, w: World) -> None:
        x, y, z = w.canvas.add_users(3, prefix="bulk")
        w.ids.update(user=x, users=[x, y, z])
        for n in (1, 2, 3):
            w.canvas.add_channel(x, "email", f"x{n}@example.edu")
        w.canvas.add_channel(y, "email", "y1@example.edu")

    def selectors(self, w: World, family: Family) -> list[dict[str, str]]:
        return [{"method": "GET", "path": _list_path(w.ids["user"])}]

    def run(self, w: World) -> Any:
        hook = CanvasHook()
        try:
            return dict(hook.iter_communication_channels_for_users(w.ids["users"]))
        finally:
            hook.close()

    def summary(self, result: Any) -> Any:
        return {
            user: [c["address"] for c in value] if isinstance(value, list) else type(value).__name__
            for user, value in result.items()
        }

    def expected_summary(self, w: World) -> Any:
        x, y, z = w.ids["users"]
        return {x: ["x1@example.edu", "x2@example.edu", "x3@example.edu"], y: ["y1@example.edu"], z: []}


class SyncCall(Call):
    """Mirror three users to ``keep-a, keep-b, new``: one create and one delete each.

    Faults hit the listing of user X (Link faults), both of X's writes (transient and ambiguous faults: both
    recover), or X's create alone (faults that outlive the retries, and redirects: X's delete is then held,
    never sent, because a user is never retired from before their new address exists), each ``times``
    times; the listing phase under the other faults is the bulk listing's row.
    """

    name = "sync"
    label = "sync operator"
    list_shaped = True
    surface = "report"

    def setup(self, w: World) -> None:
        users = w.canvas.add_users(3, prefix="sync")
        w.ids.update(user=users[0], users=users, plan_path=str(w.tmp / "plan.jsonl"))
        for user in users:
            # The stale address is on page 2: a listing that misses it would leave it undeleted.
            for kind in ("keep-a", "keep-b", "stale"):
                w.canvas.add_channel(user, "email", f"{kind}-{user}@example.edu")
        w.ids["desired"] = {
            u: [f"keep-a-{u}@example.edu", f"KEEP-B-{u}@example.edu", f"new-{u}@example.edu"] for u in users
        }

    def selectors(self, w: World, family: Family) -> list[dict[str, str]]:
        user = w.ids["user"]
        if family == "link":
            return [{"method": "GET", "path": _list_path(user)}]
        create = {"method": "POST", "path": _list_path(user)}
        if family in ("persistent", "redirect"):
            return [create]
        return [create, {"method": "DELETE", "path": rf"/users/{user}/communication_channels/[0-9]+$"}]

    def run(self, w: World) -> Any:
        return CanvasSyncCommunicationChannelsOperator(
            task_id="sync",
            desired=w.ids["desired"],
            mode="mirror",
            manage=["example.edu"],
            max_deletes=1.0,
            skip_confirmation=True,
            plan_path=w.ids["plan_path"],
        ).execute(w.context)

    def summary(self, result: Any) -> Any:
        return {key: result[key] for key in ("created", "deleted", "unchanged", "held", "failed")}

    def expected_summary(self, w: World) -> Any:
        return {"created": 3, "deleted": 3, "unchanged": 6, "held": 0, "failed": 0}

    def expected_state(self, w: World, before: State) -> State:
        remove, add = [], []
        for user in w.ids["users"]:
            remove.append((user, "email", f"stale-{user}@example.edu", "active"))
            add.append((user, "email", f"stale-{user}@example.edu", "retired"))
            add.append((user, "email", f"new-{user}@example.edu", "active"))
        return before.with_rows(remove=remove, add=add)


CALLS: list[Call] = [
    ListCall(),
    CreateCall(),
    DeleteByIdCall(),
    DeleteByAddressCall(),
    DeletePushTokenCall(),
    SensorPokeCall(),
    SensorDeferredCall(),
    TriggerCall(),
    BulkListCall(),
    SyncCall(),
]


@dataclass(frozen=True)
class Cell:
    call: Call
    fault: FaultCase
    expect: Expect

    @property
    def id(self) -> str:
        return f"{self.call.name}-{self.fault.name}"

    @property
    def label(self) -> str:
        """The outcome as the report shows it."""
        if self.expect.outcome != ERROR:
            return self.expect.outcome
        assert self.expect.error is not None
        name = f"`{self.expect.error.__name__}`"
        if self.call.surface == "value":
            return f"{name} (as the user's value)"
        if self.call.surface == "report":
            return f"{name}, items reported"
        return name


# What the sync does with an item's error: the task fails with Airflow's retries on (AirflowException) for
# what a later attempt can fix, without them (AirflowFailException) for what it cannot; an unreachable
# Canvas stops the run at once.
_RETRYABLE_ITEM_ERRORS = (CanvasServerError, CanvasRateLimitError, CanvasTimeoutError, CanvasConnectionError)


def _sync_expectation(inner: type[BaseException], family: Family) -> Expect:
    task_error = AirflowException if inner in _RETRYABLE_ITEM_ERRORS else AirflowFailException
    if inner is CanvasConnectionError:
        return error(
            task_error,
            f"{inner.__name__} for X's create: Canvas is unreachable, so the run stops at once (X's delete and "
            "the other users are not attempted); the plan file lists every item not done, a re-run converges",
            says="could not be reached",
        )
    if family == "link":
        where = "X's listing (X is not planned)"
    else:
        where = "X's create (X's old address is held, not retired)"
    return error(
        task_error,
        f"{inner.__name__} for {where}: the task fails at the end, the other users are applied, the plan "
        "file lists X's items, a re-run converges",
        says="item(s) failed",
    )


def _expectation(call: Call, fault: FaultCase) -> Expect:
    expect = fault.overrides.get(call.name, fault.expect)
    if fault.family == "link" and not call.list_shaped:
        return not_applicable("this call reads no list: the armed Link fault is never consumed")
    if expect.outcome == ERROR and call.surface == "report":
        assert expect.error is not None
        return _sync_expectation(expect.error, fault.family)
    return expect


MATRIX: list[Cell] = [Cell(call, fault, _expectation(call, fault)) for fault in FAULTS for call in CALLS]


# ----- the test -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def foreign() -> Any:
    """Another host that a Link or redirect points at: it must never receive a request."""
    with FakeCanvas(seed_demo=False) as other:
        yield other


@pytest.fixture
def world(
    fake_canvas: FakeCanvas, foreign: FakeCanvas, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> World:
    monkeypatch.setattr(CanvasHook, "retry_base_delay", 0.01)
    monkeypatch.setenv(
        "AIRFLOW_CONN_CANVAS_DEFAULT",
        fake_canvas.connection_json(
            max_retries=MAX_RETRIES, timeout=TIMEOUT, per_page=PER_PAGE, max_concurrency=4
        ),
    )
    foreign.clear_requests()
    return World(fake_canvas, foreign, tmp_path)


def _no_doubles(state: State) -> None:
    counts = Counter(row[:3] for row in state.rows)
    assert [key for key, n in counts.items() if n > 1] == [], "an address exists twice"


def _successful_posts_per_address(canvas: FakeCanvas) -> Counter[str]:
    """Creates Canvas itself answered 200 (a fault's 200 with a broken body never reached the application)."""
    bodies = [
        r.body.decode() for r in canvas.requests if r.method == "POST" and r.status == 200 and r.fault is None
    ]
    return Counter(body.lower() for body in bodies)


def _assert_clear(err: BaseException, canvas: FakeCanvas, says: str) -> None:
    text = str(err)
    assert says.lower() in text.lower(), f"the message does not say {says!r}: {text!r}"
    assert len(text) > 20, f"not a clear message: {text!r}"
    assert canvas.admin_token not in text
    assert canvas.admin_token not in repr(err)
    assert PUSH_TOKEN not in text
    if isinstance(err, CanvasError):
        assert err.summary in text
        assert "Traceback" not in text


@pytest.mark.parametrize("cell", MATRIX, ids=lambda cell: cell.id)
def test_fault_matrix(cell: Cell, world: World) -> None:
    call, fault, expect = cell.call, cell.fault, cell.expect
    canvas = world.canvas
    call.setup(world)
    before = State.of(canvas)
    canvas.clear_requests()
    canvas.reset_stats()
    armed = call.selectors(world, fault.family) if fault.make is not None else []
    for selector in armed:
        assert fault.make is not None
        canvas.inject(fault.make(world.foreign.base_url), times=fault.times, **selector)
    injected = fault.times * len(armed)

    result: Any = None
    raised: BaseException | None = None
    try:
        result = call.run(world)
    except Exception as exc:
        raised = exc
    after = State.of(canvas)

    assert world.foreign.requests == [], "a request reached the foreign host"
    _no_doubles(after)
    assert all(n == 1 for n in _successful_posts_per_address(canvas).values()), "a create was sent twice"

    if expect.outcome in (RECOVERED, NOT_APPLICABLE):
        assert raised is None, f"expected {expect.outcome}, got {raised!r}"
        assert call.summary(result) == call.expected_summary(world)
        assert after == call.expected_state(world, before)
        consumed = 0 if expect.outcome == NOT_APPLICABLE else injected
        assert canvas.stats.faults == consumed, "the fault was not met as often as injected"
        return

    assert canvas.stats.faults == injected, "the fault was not met as often as injected"
    faulted_pages = [
        r
        for r in canvas.requests
        if r.method == "GET" and r.path.endswith(f"/users/{world.ids.get('user')}/communication_channels")
    ]
    if call.surface == "raises":
        if raised is None:
            pytest.fail(f"expected {expect.label}, got a result: {call.summary(result)!r}")
        assert type(raised) is expect.error, f"expected {expect.label}, got {raised!r}"
        _assert_clear(raised, canvas, expect.says)
        assert after == (call.expected_state(world, before) if expect.applied else before), "half-applied"
    elif call.surface == "value":
        assert raised is None, f"the bulk listing must return errors as values, raised {raised!r}"
        value = result.pop(world.ids["user"])
        observed = call.summary({0: value})[0]
        assert type(value) is expect.error, f"expected {expect.label}, got {observed!r}"
        _assert_clear(value, canvas, expect.says)
        expected = call.expected_summary(world)
        expected.pop(world.ids["user"])
        assert call.summary(result) == expected, "the other users' results changed"
        assert after == before
    else:
        _check_reported_failure(cell, world, raised, result, before, after)
    if fault.family == "link":  # refused at the faulted page: the link was never followed
        assert len(faulted_pages) == 1, f"{len(faulted_pages)} requests for the faulted list, expected 1"


def _check_reported_failure(
    cell: Cell, world: World, raised: BaseException | None, result: Any, before: State, after: State
) -> None:
    """The sync operator: the task fails naming the items (addresses only in the plan file), a re-run converges."""
    call = cell.call
    observed = repr(raised) if raised is not None else f"success: {call.summary(result)!r}"
    assert type(raised) is cell.expect.error, f"expected {cell.expect.label}, got {observed}"
    assert raised is not None
    _assert_clear(raised, world.canvas, cell.expect.says)
    assert "example.edu" not in str(raised), "addresses belong in the plan file, not the task log"
    report = world.ti.pushed["return_value"]
    assert "@example.edu" not in json.dumps(report), "addresses belong in the plan file, not XCom"
    user = world.ids["user"]
    lines = [json.loads(line) for line in Path(world.ids["plan_path"]).read_text().splitlines()]
    (entry,) = [line for line in lines if line.get("user") == str(user)]
    stopped = "could not be reached" in cell.expect.says
    if cell.fault.family == "link":  # not listed, so nothing planned for X
        assert [f["action"] for f in entry["failed"]] == ["list"]
        assert {i["address"] for i in entry["not_attempted"]} == set(world.ids["desired"][user])
    else:  # X's create failed: its delete is held (or, once the run stopped, not attempted)
        assert [(f["action"], f["address"]) for f in entry["failed"]] == [
            ("create", f"new-{user}@example.edu")
        ]
        stale = f"stale-{user}@example.edu"
        if stopped:
            assert entry["not_attempted"] == [{"action": "delete", "address": stale}]
        else:
            assert [h["address"] for h in entry["held"]] == [stale]
    assert all(f["message"] for f in report["failures"])
    target = call.expected_state(world, before)
    for other in world.ids["users"]:
        untouched = other == user or stopped
        assert after.user(other) == (before.user(other) if untouched else target.user(other))

    world.canvas.clear_faults()
    world.ti.pushed.clear()
    again = call.run(world)
    assert again["failed"] == 0
    assert State.of(world.canvas) == target, "a re-run did not converge"
