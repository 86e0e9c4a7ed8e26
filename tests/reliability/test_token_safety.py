"""Token and data safety: search everywhere a secret or a student address could surface, and find nothing.

The access token is searched for in log events at DEBUG (captured before Airflow's masking, so masking
cannot hide a leak), in a real ``dag.test()`` run's output, XComs and rendered fields, in every error we can
provoke (message, repr, pickle, chained causes, traceback), in the serialised trigger, and on a second fake
Canvas that a hostile Link header, redirect or downgrade points at (which must receive nothing at all).
Student addresses are searched for in every log event at INFO or above and in the sync's failure message.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import pickle
import re
import socket
import ssl
import threading
import traceback
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import structlog

from airflow_provider_canvas._compat import AirflowFailException, TaskDeferred
from airflow_provider_canvas.exceptions import (
    CanvasAuthenticationError,
    CanvasConnectionError,
    CanvasDuplicateChannelError,
    CanvasError,
    CanvasNotFoundError,
    CanvasPermissionError,
    CanvasRateLimitError,
    CanvasResponseError,
    CanvasServerError,
    CanvasValidationError,
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
from reliability.catalogue import BAD_INPUTS, SAFETY_GUARANTEES
from tests.airflow_versions import fired_trigger_event, is_airflow_supervisor_request, serde_serialize
from tests.conftest import REPO_ROOT, CapturedLogs, capture_stdlib_logging
from tests.dags.conftest import dagbag, run_dag, task_states, test_dagbag  # noqa: F401
from tests.hook.test_tls import _self_signed, https_canvas  # noqa: F401
from tests.operators.conftest import RecordingTaskInstance

PUSH_TOKEN = "device-push-SECRET-7f3a9c2e51"
WRONG_TOKEN = "rejected-SECRET-token-0b8d44"
INFO_AND_ABOVE = {"info", "warning", "warn", "error", "exception", "critical", "fatal", "msg"}


# ----- helpers ------------------------------------------------------------------------------------------


@pytest.fixture
def canvas(canvas_connection: FakeCanvas) -> FakeCanvas:
    return canvas_connection


@pytest.fixture
def other() -> Iterator[FakeCanvas]:
    """A second Canvas on another port: whatever reaches it has left the connection's origin."""
    with FakeCanvas(seed_demo=False) as second:
        yield second


@pytest.fixture
def student(canvas: FakeCanvas) -> int:
    (channel,) = [c for c in canvas.all_channels() if c["address"] == "demo-student-1@example.edu"]
    return int(channel["user_id"])


def connect(monkeypatch: pytest.MonkeyPatch, host: str, token: str, **extra: Any) -> None:
    extra.setdefault("timeout", 5)
    conn = {"conn_type": "canvas", "host": host, "password": token, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_CANVAS_DEFAULT", json.dumps(conn))


def first_event(trigger: CanvasCommunicationChannelTrigger, timeout: float = 20.0) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(run(), timeout))


def rebuilt(trigger: CanvasCommunicationChannelTrigger) -> CanvasCommunicationChannelTrigger:
    """The trigger as the triggerer re-creates it: from its JSON-plain serialised form."""
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))


def context() -> dict[str, Any]:
    return {"ti": RecordingTaskInstance()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def everything_about(error: BaseException) -> str:
    """Every text an error can be shown or shipped as: message, repr, state, pickle, causes, traceback."""
    texts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), repr(getattr(current, "__dict__", {}))]
        texts += [repr(arg) for arg in current.args]
        current = current.__cause__ or current.__context__
    texts.append("".join(traceback.format_exception(error)))
    texts.append(pickle.dumps(error).decode("latin-1"))
    return "\n".join(texts)


def info_and_above(logs: Any) -> list[str]:
    return [record.raw for record in logs if record.level in INFO_AND_ABOVE]


def assert_no_address(texts: list[str], addresses: list[str]) -> None:
    for text in texts:
        lowered = text.lower()
        for address in addresses:
            assert address.lower() not in lowered, f"{address!r} in {text[:300]!r}"


class _FrontHandler(BaseHTTPRequestHandler):
    server: _Front

    def _answer(self) -> None:
        self.server.requests.append((self.command, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, headers, body = self.server.answer(self.command, self.path)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


class _Front(ThreadingHTTPServer):
    """A tiny https Canvas stand-in whose answers a test chooses (the fake Canvas only speaks http)."""

    daemon_threads = True

    def __init__(self, answer: Callable[[str, str], tuple[int, dict[str, str], Any]]) -> None:
        super().__init__(("127.0.0.1", 0), _FrontHandler)
        self.answer = answer
        self.requests: list[tuple[str, str]] = []


@pytest.fixture
def https_front(tmp_path: Path) -> Iterator[Callable[..., tuple[str, str, _Front]]]:
    """Start an https server (trusted through a CA bundle path) answering with ``answer``."""
    cert_path, key_path = _self_signed(tmp_path)
    servers: list[tuple[_Front, threading.Thread]] = []

    def start(answer: Callable[[str, str], tuple[int, dict[str, str], Any]]) -> tuple[str, str, _Front]:
        server = _Front(answer)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert_path, key_path)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"https://127.0.0.1:{server.server_address[1]}", str(cert_path), server

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


# ----- the token in logs --------------------------------------------------------------------------------


def test_tokens_never_logged_at_debug(canvas, student, other, monkeypatch, captured_logs):
    admin = canvas.admin_token
    connect(monkeypatch, canvas.base_url, admin, per_page=1, max_retries=2, timeout=0.5)
    hook = CanvasHook()
    ctx = context()

    # Successes, paginated lists and retries.
    assert hook.test_connection()[0]
    canvas.inject(Fault.status(503), times=1)
    canvas.inject(Fault.throttle(), times=1)
    created = hook.create_communication_channel(student, channel_type="email", address="log1@example.edu")
    assert len(hook.list_communication_channels(student)) == 2  # two pages of one
    hook.delete_communication_channel(student, created["id"])
    sms = hook.create_communication_channel(student, channel_type="sms", address="+15555550142")
    hook.delete_communication_channel(student, channel_type="sms", address="+15555550142")
    assert sms["type"] == "sms"
    CanvasCreateCommunicationChannelOperator(
        task_id="push", user_id="self", channel_type="push", token=PUSH_TOKEN
    ).execute(ctx)
    CanvasDeletePushTokenOperator(task_id="unpush", push_token=PUSH_TOKEN).execute(ctx)
    CanvasSyncCommunicationChannelsOperator(
        task_id="sync", desired={student: ["demo-student-1@example.edu", "log2@example.edu"]}
    ).execute(ctx)
    CanvasCommunicationChannelSensor(
        task_id="wait", user_id=student, address="log2@example.edu", target_state="present", deferrable=False
    ).execute(ctx)
    trigger = CanvasCommunicationChannelTrigger(
        user_id=student, target_state="present", channel_type="email", address="log2@example.edu"
    )
    assert first_event(rebuilt(trigger))["status"] == "success"

    # Failures of every kind, in the sync hook and the trigger.
    canvas.inject(Fault.status(500), times=10)
    with pytest.raises(CanvasServerError):
        hook.list_communication_channels(student)
    canvas.clear_faults()
    canvas.inject(Fault.stall(3.0), times=5)
    with pytest.raises(CanvasConnectionError):
        hook.list_communication_channels(student)
    canvas.clear_faults()
    canvas.inject(Fault.redirect(other.base_url + "/api/v1/users/self"), times=1)
    with pytest.raises(CanvasResponseError):
        hook.request("GET", "users/self")
    canvas.inject(Fault.foreign_next(host=other.base_url), times=2)
    with pytest.raises(CanvasResponseError):
        hook.list_communication_channels("self")
    assert first_event(rebuilt(trigger))["status"] == "error"
    canvas.clear_faults()
    with pytest.raises(ValueError):
        hook.create_communication_channel(student, channel_type="push", token="bad\ntoken")
    connect(monkeypatch, canvas.base_url, WRONG_TOKEN)
    with pytest.raises(CanvasAuthenticationError):
        CanvasHook().list_communication_channels("self")
    assert first_event(rebuilt(trigger))["error_type"] == "CanvasAuthenticationError"
    connect(monkeypatch, f"http://127.0.0.1:{free_port()}", admin, max_retries=0)
    with pytest.raises(CanvasConnectionError):
        CanvasHook().list_communication_channels("self")

    levels = {record.level for record in captured_logs}
    assert {"debug", "info", "warning"} <= levels, levels  # every level was really captured
    assert any("rate limit" in m for m in captured_logs.messages("debug"))
    for secret in (admin, PUSH_TOKEN, WRONG_TOKEN):
        assert secret not in captured_logs.text
    assert other.requests == []


@pytest.mark.airflow_db
def test_dag_run_shows_no_token_in_output_xcom_or_rendered_fields(run_dag, canvas, capfd):  # noqa: F811
    """One real dag.test() run of every operator and the sensor, poke and deferred, at DEBUG."""
    import logging

    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.trigger import Trigger
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    params = {
        "user": "sis_user_id:demo-student-1",
        "address": "Dag.Student.Secret@example.edu",
        "sms": "+15555550177",
        "sync_address": "dag.sync.secret@example.edu",
        "push_token": PUSH_TOKEN,
    }
    events: list[tuple[str, str]] = []

    def tap(logger: Any, method_name: str, event_dict: dict) -> dict:
        events.append((method_name, repr(event_dict)))  # before Airflow's masking processor
        return event_dict

    old = structlog.get_config()
    structlog.configure(
        processors=[tap, *old["processors"]],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    stdlib_records = CapturedLogs()  # Airflow 3.0's hooks and operators log through stdlib logging
    try:
        capfd.readouterr()
        with capture_stdlib_logging(stdlib_records):
            dag_run = run_dag("canvas_reliability_safety", **params)
    finally:
        structlog.configure(
            processors=old["processors"],
            wrapper_class=old["wrapper_class"],
            cache_logger_on_first_use=old["cache_logger_on_first_use"],
        )
    events.extend((record.level, record.raw) for record in stdlib_records)
    captured = capfd.readouterr()
    output = (captured.out + captured.err).splitlines()
    assert dag_run.state == "success", task_states(dag_run)
    debug_lines = [line for line in output if "[debug" in line or " DEBUG - " in line]  # structlog, stdlib
    assert any("Canvas rate limit" in line for line in debug_lines), "DEBUG was on"
    assert [e["token"] for e in canvas.push_endpoints(canvas.admin_user_id)] == [PUSH_TOKEN]  # really sent
    assert {c["address"] for c in canvas.all_channels(include_retired=True)} >= {
        params["address"],
        params["sms"],
        params["sync_address"],
    }

    # Airflow's in-process test supervisor (dag.test() only) logs the task's MaskSecret requests with their
    # values at DEBUG; those lines are Airflow's, not the provider's, and the only ones allowed to hold a secret.
    for secret in (canvas.admin_token, PUSH_TOKEN):
        assert [line for line in output if secret in line and not is_airflow_supervisor_request(line)] == []
        assert [e for level, e in events if secret in e and not is_airflow_supervisor_request(e)] == []

    addresses = [params["address"], params["sms"], params["sync_address"]]
    assert_no_address([line for line in output if line not in debug_lines], addresses)
    assert_no_address([e for level, e in events if level in INFO_AND_ABOVE], addresses)

    tis = dag_run.get_task_instances()
    assert len(tis) == 12
    with create_session() as session:
        xcoms = session.scalars(
            select(XComModel).where(XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id)
        ).all()
        keys = {(x.task_id, x.key) for x in xcoms}
        values = repr([(x.task_id, x.key, x.value) for x in xcoms])
        triggers = repr([t.kwargs for t in session.scalars(select(Trigger)).all()])
    assert {
        ("create_email", "return_value"),
        ("sync", "return_value"),
        ("wait_deferred", "return_value"),
    } <= keys
    rendered = repr([RenderedTaskInstanceFields.get_templated_fields(ti) for ti in tis])
    assert params["address"] in rendered and params["sync_address"] in values  # the search is not vacuous
    for secret in (canvas.admin_token, PUSH_TOKEN):
        assert secret not in values
        assert secret not in rendered
        assert secret not in triggers


# ----- the token in errors ------------------------------------------------------------------------------

Scenario = Callable[[FakeCanvas, FakeCanvas, pytest.MonkeyPatch, pytest.FixtureRequest], Any]


def _hook(monkeypatch, canvas, token=None, **extra):
    extra.setdefault("max_retries", 1)
    extra.setdefault("timeout", 0.5)
    connect(monkeypatch, canvas.base_url, token or canvas.admin_token, **extra)
    return CanvasHook()


def _list_self(canvas, monkeypatch, fault, times=10, **extra):
    canvas.inject(fault, times=times)
    return _hook(monkeypatch, canvas, **extra).list_communication_channels("self")


def _tls(canvas, other, monkeypatch, request):
    url, _ = request.getfixturevalue("https_canvas")
    connect(monkeypatch, url, canvas.admin_token, max_retries=1)
    return CanvasHook().delete_communication_channel(1, channel_type="email", address="tls@example.edu")


def _sync_failing(canvas, other, monkeypatch, request):
    connect(monkeypatch, canvas.base_url, canvas.admin_token, max_retries=1)
    canvas.inject(Fault.status(500), times=10, method="POST")
    return CanvasSyncCommunicationChannelsOperator(
        task_id="sync", desired={"self": "fails@example.edu", "sis_user_id:nobody": "x@example.edu"}
    ).execute(context())


def _bulk_error(canvas, other, monkeypatch, request):
    canvas.inject(Fault.status(503), times=10)
    ((_, result),) = list(_hook(monkeypatch, canvas).iter_communication_channels_for_users(["self"]))
    raise result


def _push_delete_500(canvas, other, monkeypatch, request):
    canvas.inject(Fault.status(500), times=10)
    return _hook(monkeypatch, canvas).delete_push_token(PUSH_TOKEN)


ERROR_SCENARIOS: dict[str, tuple[type[BaseException], Scenario]] = {
    "400 validation": (
        CanvasValidationError,
        lambda c, o, mp, r: (
            setattr(c.settings, "max_communication_channels", 1),
            _hook(mp, c).create_communication_channel("self", channel_type="email", address="n@example.edu"),
        ),
    ),
    "400 duplicate": (
        CanvasDuplicateChannelError,
        lambda c, o, mp, r: _hook(mp, c).create_communication_channel(
            "self", channel_type="email", address="admin@example.edu"
        ),
    ),
    "401 rejected token": (
        CanvasAuthenticationError,
        lambda c, o, mp, r: _hook(mp, c, token=WRONG_TOKEN).list_communication_channels("self"),
    ),
    "403 not permitted": (
        CanvasPermissionError,
        lambda c, o, mp, r: _hook(mp, c, token=c.user_token).list_communication_channels(c.admin_user_id),
    ),
    "404": (
        CanvasNotFoundError,
        lambda c, o, mp, r: _hook(mp, c).list_communication_channels("sis_user_id:nobody"),
    ),
    "429 after retries": (CanvasRateLimitError, lambda c, o, mp, r: _list_self(c, mp, Fault.status(429))),
    "403 throttle after retries": (
        CanvasRateLimitError,
        lambda c, o, mp, r: _list_self(c, mp, Fault.throttle()),
    ),
    "500 after retries": (CanvasServerError, lambda c, o, mp, r: _list_self(c, mp, Fault.status(500))),
    "502 after retries": (CanvasServerError, lambda c, o, mp, r: _list_self(c, mp, Fault.status(502))),
    "503 after retries": (CanvasServerError, lambda c, o, mp, r: _list_self(c, mp, Fault.status(503))),
    "504 after retries": (CanvasServerError, lambda c, o, mp, r: _list_self(c, mp, Fault.status(504))),
    "push-token delete, 500 after retries": (CanvasServerError, _push_delete_500),
    "timeout": (
        CanvasConnectionError,
        lambda c, o, mp, r: _list_self(c, mp, Fault.stall(3.0), timeout=0.2, max_retries=0),
    ),
    "connection refused": (
        CanvasConnectionError,
        lambda c, o, mp, r: (
            connect(mp, f"http://127.0.0.1:{free_port()}", c.admin_token, max_retries=1),
            CanvasHook().list_communication_channels("self"),
        ),
    ),
    "connection reset": (CanvasConnectionError, lambda c, o, mp, r: _list_self(c, mp, Fault.reset())),
    "malformed JSON": (CanvasResponseError, lambda c, o, mp, r: _list_self(c, mp, Fault.malformed_json())),
    "truncated body": (CanvasConnectionError, lambda c, o, mp, r: _list_self(c, mp, Fault.truncated_body())),
    "empty body": (CanvasResponseError, lambda c, o, mp, r: _list_self(c, mp, Fault.empty_body())),
    "TLS failure": (CanvasConnectionError, _tls),
    "redirect to another host": (
        CanvasResponseError,
        lambda c, o, mp, r: _list_self(c, mp, Fault.redirect(o.base_url + "/api/v1/users/self"), times=1),
    ),
    "foreign next link": (
        CanvasResponseError,
        lambda c, o, mp, r: _list_self(c, mp, Fault.foreign_next(host=o.base_url), times=1),
    ),
    "downgraded next link": (
        CanvasResponseError,
        lambda c, o, mp, r: _list_self(c, mp, Fault.downgrade_next(), times=1),
    ),
    "local input error": (
        ValueError,
        lambda c, o, mp, r: _hook(mp, c).create_communication_channel(
            "self", channel_type="push", token=PUSH_TOKEN + "\n"
        ),
    ),
    "bulk listing error value": (CanvasServerError, _bulk_error),
    "sync operator failure": (AirflowFailException, _sync_failing),
}


@pytest.mark.parametrize("name", list(ERROR_SCENARIOS))
def test_errors_never_carry_the_token(name, canvas, other, monkeypatch, request):
    expected, scenario = ERROR_SCENARIOS[name]
    with pytest.raises(BaseException) as info:
        scenario(canvas, other, monkeypatch, request)
    assert isinstance(info.value, expected), f"{type(info.value).__name__}: {info.value}"
    shown = everything_about(info.value)
    for secret in (canvas.admin_token, canvas.user_token, WRONG_TOKEN, PUSH_TOKEN):
        assert secret not in shown
    assert other.requests == []


TRIGGER_FAULTS: dict[str, tuple[str, Callable[[FakeCanvas, FakeCanvas], Any]]] = {
    "401 rejected token": ("CanvasAuthenticationError", lambda c, o: None),
    "500 after retries": ("CanvasServerError", lambda c, o: c.inject(Fault.status(500), times=10)),
    "429 after retries": ("CanvasRateLimitError", lambda c, o: c.inject(Fault.status(429), times=10)),
    "timeout": ("CanvasTimeoutError", lambda c, o: c.inject(Fault.stall(3.0), times=10)),
    "malformed JSON": ("CanvasResponseError", lambda c, o: c.inject(Fault.malformed_json(), times=10)),
    "redirect to another host": (
        "CanvasResponseError",
        lambda c, o: c.inject(Fault.redirect(o.base_url + "/x"), times=1),
    ),
    "foreign next link": ("CanvasResponseError", lambda c, o: c.inject(Fault.foreign_next(host=o.base_url))),
}


@pytest.mark.parametrize("name", list(TRIGGER_FAULTS))
def test_trigger_error_events_and_the_reraised_error_never_carry_the_token(name, canvas, other, monkeypatch):
    error_type, arm = TRIGGER_FAULTS[name]
    token = WRONG_TOKEN if name == "401 rejected token" else canvas.admin_token
    connect(monkeypatch, canvas.base_url, token, max_retries=1, timeout=0.3)
    arm(canvas, other)
    trigger = CanvasCommunicationChannelTrigger(
        user_id="self", target_state="present", channel_type="email", address="admin@example.edu"
    )
    event = first_event(rebuilt(trigger))
    assert (event["status"], event["error_type"]) == ("error", error_type)
    sensor = CanvasCommunicationChannelSensor(task_id="wait", user_id="self", address="admin@example.edu")
    with pytest.raises(CanvasError) as info:
        sensor.execute_complete(context(), event)
    shown = json.dumps(event) + everything_about(info.value)
    for secret in (canvas.admin_token, WRONG_TOKEN):
        assert secret not in shown
    assert other.requests == []


# ----- the token in XCom and in the serialised trigger --------------------------------------------------


def test_operator_xcoms_never_carry_a_token(canvas, student):
    outputs: list[Any] = []
    ctx = context()
    run = [
        CanvasListCommunicationChannelsOperator(task_id="list", user_id=student),
        CanvasCreateCommunicationChannelOperator(task_id="create", user_id=student, address="x1@example.edu"),
        CanvasCreateCommunicationChannelOperator(
            task_id="push", user_id="self", channel_type="push", token=PUSH_TOKEN
        ),
        CanvasCommunicationChannelSensor(
            task_id="wait",
            user_id=student,
            address="x1@example.edu",
            target_state="present",
            deferrable=False,
        ),
        CanvasDeleteCommunicationChannelOperator(
            task_id="delete", user_id=student, channel_type="email", address="x1@example.edu"
        ),
        CanvasDeletePushTokenOperator(task_id="unpush", push_token=PUSH_TOKEN),
        CanvasSyncCommunicationChannelsOperator(task_id="sync", desired={student: "x2@example.edu"}),
    ]
    for operator in run:
        outputs.append(operator.execute(ctx))
    sms = CanvasCreateCommunicationChannelOperator(
        task_id="sms", user_id=student, channel_type="sms", address="+15555550143"
    ).execute(ctx)
    outputs.append(
        CanvasDeleteCommunicationChannelOperator(
            task_id="del", user_id=student, channel_id=sms["id"]
        ).execute(ctx)
    )
    event = first_event(
        CanvasCommunicationChannelTrigger(
            user_id=student, target_state="present", channel_type="email", address="x2@example.edu"
        )
    )
    outputs.append(
        CanvasCommunicationChannelSensor(
            task_id="d", user_id=student, address="x2@example.edu"
        ).execute_complete(ctx, event)
    )
    canvas.inject(Fault.status(400, body='{"errors":{"type":"Nope"}}'), times=1, method="POST")
    with pytest.raises(AirflowFailException):
        CanvasSyncCommunicationChannelsOperator(task_id="sync2", desired={student: "x3@example.edu"}).execute(
            ctx
        )
    outputs.append(ctx["ti"].pushed)
    assert ctx["ti"].pushed["return_value"]["failed"] == 1
    assert [e["token"] for e in canvas.push_endpoints(canvas.admin_user_id)] == [PUSH_TOKEN]  # really sent
    text = json.dumps(outputs)  # XCom must be JSON-plain anyway
    assert "x1@example.edu" in text  # the search is not vacuous
    for secret in (canvas.admin_token, PUSH_TOKEN):
        assert secret not in text


def test_deferred_trigger_serialises_without_the_token(canvas, student):
    from airflow.models.trigger import Trigger

    serialize = serde_serialize()
    pending = canvas.add_channel(student, "email", "pending@example.edu", workflow_state="unconfirmed")
    sensor = CanvasCommunicationChannelSensor(
        task_id="wait", user_id=student, address="pending@example.edu", deferrable=True
    )
    with pytest.raises(TaskDeferred) as info:  # unconfirmed: the sensor's first look defers
        sensor.execute(context())
    canvas.confirm(pending["id"])
    trigger = info.value.trigger
    _, kwargs = trigger.serialize()
    stored = json.dumps(serialize(kwargs))  # what Airflow encrypts into the trigger table
    row = Trigger.from_object(trigger)
    shown = "\n".join([stored, repr(row.kwargs), repr(info.value), repr(trigger), repr(vars(trigger))])
    assert canvas.admin_token not in shown
    assert "canvas_default" in stored  # the connection id travels, the secret does not
    assert first_event(rebuilt(trigger))["status"] == "success"  # and that is enough to run


# ----- no request to another host ----------------------------------------------------------------------

LINK_VARIANTS: dict[str, Callable[[FakeCanvas, FakeCanvas], str]] = {
    "absolute": lambda c, o: o.base_url,
    "scheme-relative": lambda c, o: f"//{o.host}:{o.port}",
    "user-info": lambda c, o: f"http://{c.host}:{c.port}@{o.host}:{o.port}",
    "backslash": lambda c, o: f"http://{o.host}:{o.port}\\@{c.host}:{c.port}",
}


def _list_call(kind: str, user: int) -> Callable[[], Any]:
    def run() -> Any:
        if kind == "hook":
            return CanvasHook().list_communication_channels(user)
        if kind == "bulk listing":
            return list(CanvasHook().iter_communication_channels_for_users([user]))
        if kind == "sync operator":
            return CanvasSyncCommunicationChannelsOperator(
                task_id="sync", desired={user: "demo-student-1@example.edu"}
            ).execute(context())
        if kind == "sensor (poke)":
            return CanvasCommunicationChannelSensor(
                task_id="wait",
                user_id=user,
                address="demo-student-1@example.edu",
                deferrable=False,
                timeout=1,
            ).poke(context())
        trigger = CanvasCommunicationChannelTrigger(
            user_id=user, target_state="present", channel_type="email", address="nobody@example.edu"
        )
        return first_event(rebuilt(trigger))

    return run


LIST_CALLS = ["hook", "bulk listing", "sync operator", "sensor (poke)", "trigger"]


@pytest.mark.parametrize("call", LIST_CALLS)
@pytest.mark.parametrize("variant", list(LINK_VARIANTS))
def test_foreign_next_links_never_reach_the_other_host(variant, call, canvas, other, student, monkeypatch):
    connect(monkeypatch, canvas.base_url, canvas.admin_token, max_retries=1, per_page=1)
    canvas.add_channel(student, "email", "second-page@example.edu")  # so there is a next page to follow
    canvas.inject(Fault.foreign_next(host=LINK_VARIANTS[variant](canvas, other)), times=1)
    with contextlib.suppress(CanvasError, AirflowFailException):
        _list_call(call, student)()
    assert [(r.method, r.path, "authorization" in r.headers) for r in other.requests] == []
    assert canvas.requests, "the first page was fetched"


def _redirecting_call(kind: str, user: int) -> Callable[[], Any]:
    def run() -> Any:
        hook = CanvasHook()
        if kind == "create":
            return hook.create_communication_channel(user, channel_type="email", address="r@example.edu")
        if kind == "delete by id":
            return hook.delete_communication_channel(user, 12345)
        if kind == "delete by address":
            return hook.delete_communication_channel(user, channel_type="email", address="r@example.edu")
        if kind == "delete push token":
            return hook.delete_push_token(PUSH_TOKEN)
        if kind == "test connection":
            ok, message = hook.test_connection()
            assert not ok
            return message
        return _list_call(kind, user)()

    return run


@pytest.mark.parametrize(
    "call",
    ["create", "delete by id", "delete by address", "delete push token", "test connection", *LIST_CALLS],
)
@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirects_never_reach_the_other_host(code, call, canvas, other, student, monkeypatch):
    connect(monkeypatch, canvas.base_url, canvas.admin_token, max_retries=1)
    canvas.inject(Fault.redirect(other.base_url + "/api/v1/users/self/communication_channels", code=code))
    with contextlib.suppress(CanvasError, AirflowFailException):
        _redirecting_call(call, student)()
    assert [(r.method, r.path) for r in other.requests] == []
    assert canvas.stats.faults == 1, "the redirect was answered"


@pytest.mark.parametrize("call", ["hook", "bulk listing", "sensor (poke)", "trigger", "create"])
def test_https_to_http_downgrade_never_reaches_the_other_host(call, other, https_front, monkeypatch):
    """Canvas on https answers with a pagination link (or, for a create, a 307) to plain http elsewhere."""
    downgraded = f"http://{other.host}:{other.port}/api/v1/users/7/communication_channels?page=2&per_page=1"
    channel = {"id": 1, "user_id": 7, "type": "email", "address": "a@example.edu", "workflow_state": "active"}

    def answer(method: str, path: str) -> tuple[int, dict[str, str], Any]:
        if method == "POST":
            return 307, {"Location": downgraded}, {}
        return 200, {"Link": f'<{downgraded}>; rel="next"'}, [channel]

    url, bundle, front = https_front(answer)
    connect(monkeypatch, url, "https-SECRET-token-5521", verify=bundle, max_retries=0)
    with contextlib.suppress(CanvasError, AirflowFailException):
        _redirecting_call(call, 7)()
    assert front.requests, "the https Canvas was asked"
    assert other.requests == []


# ----- TLS ----------------------------------------------------------------------------------------------


def test_trigger_verifies_tls_by_default(https_canvas, monkeypatch):  # noqa: F811
    url, cert_path = https_canvas
    connect(monkeypatch, url, "tls-SECRET-token-1234", max_retries=1)
    trigger = CanvasCommunicationChannelTrigger(user_id="self", target_state="present", channel_id=1)
    event = first_event(trigger)
    assert (event["status"], event["error_type"]) == ("error", "CanvasTLSError")
    assert "tls-SECRET-token-1234" not in json.dumps(event)
    # Trusting its CA bundle gets through TLS (the stand-in then answers a non-list, a typed error).
    connect(monkeypatch, url, "tls-SECRET-token-1234", max_retries=1, verify=str(cert_path))
    assert first_event(trigger)["error_type"] == "CanvasResponseError"


def test_trigger_warns_when_tls_verification_is_off(https_canvas, monkeypatch, captured_logs):  # noqa: F811
    url, _ = https_canvas
    connect(monkeypatch, url, "tls-SECRET-token-1234", max_retries=0, verify=False)
    event = first_event(
        CanvasCommunicationChannelTrigger(user_id="self", target_state="present", channel_id=1)
    )
    assert event["error_type"] == "CanvasResponseError"  # TLS was not checked: it got an answer
    assert any("verification is OFF" in m for m in captured_logs.messages("warning"))


# ----- student addresses --------------------------------------------------------------------------------


def test_student_addresses_never_logged_at_info(canvas, student, monkeypatch, captured_logs):
    login = "sis_login_id:demo-student-1@example.edu"  # an SIS login id is often an e-mail address
    address, sms = "Private.Person@example.edu", "+15555550166"
    synced = ["sync.one@example.edu", "sync.two@example.edu"]
    ghost = "sis_login_id:ghost.student@example.edu"
    connect(monkeypatch, canvas.base_url, canvas.admin_token, max_retries=2, per_page=1)
    ctx = context()

    CanvasListCommunicationChannelsOperator(task_id="list", user_id=login).execute(ctx)
    canvas.inject(Fault.status(503), times=1, method="POST")
    CanvasCreateCommunicationChannelOperator(task_id="create", user_id=login, address=address).execute(ctx)
    CanvasCommunicationChannelSensor(
        task_id="wait", user_id=login, address=address, target_state="present", deferrable=False
    ).execute(ctx)
    trigger = CanvasCommunicationChannelTrigger(
        user_id=login, target_state="present", channel_type="email", address=address
    )
    canvas.inject(Fault.throttle(), times=1, method="GET")
    assert first_event(rebuilt(trigger))["status"] == "success"
    canvas.inject(Fault.status(503), times=1, method="DELETE")
    CanvasDeleteCommunicationChannelOperator(
        task_id="delete", user_id=login, channel_type="email", address=address
    ).execute(ctx)
    CanvasDeleteCommunicationChannelOperator(
        task_id="again", user_id=login, channel_type="email", address=address, missing_ok=True
    ).execute(ctx)
    created = CanvasCreateCommunicationChannelOperator(
        task_id="sms", user_id=login, channel_type="sms", address=sms
    ).execute(ctx)
    CanvasDeleteCommunicationChannelOperator(task_id="del", user_id=login, channel_id=created["id"]).execute(
        ctx
    )
    CanvasSyncCommunicationChannelsOperator(task_id="sync", desired={login: synced}).execute(ctx)
    canvas.inject(Fault.status(500), times=5, method="DELETE")
    with pytest.raises(AirflowFailException):
        CanvasSyncCommunicationChannelsOperator(
            task_id="mirror",
            desired={login: [synced[0], "demo-student-1@example.edu"], ghost: "ghost@example.edu"},
            mode="mirror",
            manage="all",
            max_deletes=1.0,
        ).execute(ctx)
    canvas.clear_faults()
    with pytest.raises(CanvasDuplicateChannelError):
        CanvasCreateCommunicationChannelOperator(
            task_id="dup", user_id=login, address=synced[0], if_exists="fail"
        ).execute(ctx)

    records = info_and_above(captured_logs)
    assert len(records) > 20 and any("retry" in r for r in records)  # retries were logged too
    assert_no_address(
        records,
        [
            address,
            sms,
            *synced,
            "demo-student-1@example.edu",
            "ghost.student@example.edu",
            "ghost@example.edu",
        ],
    )


def test_triggerer_logs_no_student_address(canvas, student, monkeypatch, captured_logs):
    """Airflow's triggerer logs every event a trigger fires at INFO ("Trigger fired event", result=event)."""
    from airflow.jobs.triggerer_job_runner import TriggerRunner

    monkeypatch.setenv("AIRFLOW_DISABLE_GREENBACK_PORTAL", "true")
    pending = canvas.add_channel(student, "email", "pending@example.edu", workflow_state="unconfirmed")
    sensor = CanvasCommunicationChannelSensor(
        task_id="wait", user_id=student, address="Pending@example.edu", deferrable=True
    )
    with pytest.raises(TaskDeferred) as info:  # unconfirmed: the sensor's first look defers
        sensor.execute(context())
    canvas.confirm(pending["id"])
    runner = TriggerRunner()
    runner.triggers[1] = {"name": "canvas_dag/run/wait/-1/1 (ID 1)", "events": 0}
    asyncio.run(runner.run_trigger(1, rebuilt(info.value.trigger)))
    (fired,) = list(runner.events)
    assert fired_trigger_event(fired).payload["status"] == "success"
    records = info_and_above(captured_logs)
    assert any("Trigger fired event" in r for r in records)
    assert_no_address(records, ["pending@example.edu"])


ADDRESS_ERRORS: dict[str, Callable[[FakeCanvas, pytest.MonkeyPatch, pytest.FixtureRequest], str]] = {
    "TLS failure": lambda c, mp, r: r.getfixturevalue("https_canvas")[0],
    "timeout": lambda c, mp, r: (c.inject(Fault.stall(3.0), times=5), c.base_url)[1],
    "connection refused": lambda c, mp, r: f"http://127.0.0.1:{free_port()}",
    "connection reset": lambda c, mp, r: (c.inject(Fault.reset(), times=5), c.base_url)[1],
    "404": lambda c, mp, r: c.base_url,
    "500 after retries": lambda c, mp, r: (c.inject(Fault.status(500), times=5), c.base_url)[1],
    "redirect": lambda c, mp, r: (c.inject(Fault.redirect("https://elsewhere.example/x")), c.base_url)[1],
    "malformed JSON": lambda c, mp, r: (c.inject(Fault.malformed_json(), times=5), c.base_url)[1],
}


@pytest.mark.parametrize("name", list(ADDRESS_ERRORS))
@pytest.mark.parametrize("kind", ["email", "sms", "login id"])
def test_canvas_and_network_errors_never_carry_the_address(name, kind, canvas, monkeypatch, request):
    """An operator's error is logged at ERROR with the task; its URL must be the safe form, whatever failed."""
    host = ADDRESS_ERRORS[name](canvas, monkeypatch, request)
    connect(monkeypatch, host, canvas.admin_token, max_retries=1, timeout=0.3)
    if kind == "login id":
        secret = "private.login@example.edu"
        operator: Any = CanvasListCommunicationChannelsOperator(
            task_id="list", user_id=f"sis_login_id:{secret}"
        )
    else:
        secret = "private.person@example.edu" if kind == "email" else "+15555550155"
        operator = CanvasDeleteCommunicationChannelOperator(
            task_id="delete", user_id="self", channel_type=kind, address=secret
        )
    with pytest.raises(CanvasError) as info:
        operator.execute(context())
    shown = [str(info.value), repr(info.value), "".join(traceback.format_exception(info.value))]
    assert_no_address(shown, [secret, secret.replace("@", "%40"), secret.replace("+", "%2B")])


def _sync_canvas_failures(canvas, monkeypatch, request, student):
    connect(monkeypatch, canvas.base_url, canvas.admin_token, max_retries=1)
    canvas.inject(Fault.status(400, body='{"errors":{"path":[{"message":"invalid"}]}}'), method="POST")
    canvas.inject(Fault.status(500), times=5, method="POST")
    desired = {
        student: ["first.failure@example.edu", "second.failure@example.edu"],
        "sis_login_id:ghost.student@example.edu": "ghost@example.edu",
    }
    CanvasSyncCommunicationChannelsOperator(task_id="sync", desired=desired, max_concurrency=1).execute(
        context()
    )


def _sync_tls_failure(canvas, monkeypatch, request, student):
    url, _ = request.getfixturevalue("https_canvas")
    connect(monkeypatch, url, canvas.admin_token, max_retries=0)
    desired = {"sis_login_id:ghost.student@example.edu": "first.failure@example.edu"}
    CanvasSyncCommunicationChannelsOperator(task_id="sync", desired=desired).execute(context())


def _sync_bad_rows(canvas, monkeypatch, request, student):
    rows = [
        {"user_id": student, "address": "first.failure@example"},
        {"user_id": student, "address": "second failure@example.edu"},
    ]
    CanvasSyncCommunicationChannelsOperator(task_id="sync", desired=rows).execute(context())


def _sync_rendered_xcom(canvas, monkeypatch, request, student):
    rows = [{"user_id": student, "address": "first.failure@example.edu"}]
    # What a templated "{{ ti.xcom_pull('rows') }}" renders to without render_template_as_native_obj.
    CanvasSyncCommunicationChannelsOperator(task_id="sync", desired=str(rows)).execute(context())


@pytest.mark.parametrize(
    "scenario",
    [_sync_canvas_failures, _sync_tls_failure, _sync_bad_rows, _sync_rendered_xcom],
    ids=["canvas errors", "TLS failure", "bad rows", "XCom rendered as text"],
)
def test_sync_failure_message_carries_no_address(scenario, canvas, student, monkeypatch, request):
    with pytest.raises((AirflowFailException, ValueError)) as info:
        scenario(canvas, monkeypatch, request, student)
    shown = [str(info.value), repr(info.value)]
    assert_no_address(
        shown,
        [
            "first.failure@example",
            "second failure@example.edu",
            "second.failure@example.edu",
            "ghost.student@example.edu",
            "ghost@example.edu",
        ],
    )


# ----- the guarantees point at real tests ---------------------------------------------------------------


def test_every_safety_guarantee_names_an_existing_test():
    ids = {entry.id for entry in BAD_INPUTS}
    for guarantee in SAFETY_GUARANTEES:
        path, _, name = guarantee.proven_by.partition("::")
        function, _, param = name.partition("[")
        source = (REPO_ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^(async )?def {re.escape(function)}\(", source, re.M), guarantee.proven_by
        if param:
            assert function == "test_bad_input" and param.rstrip("]") in ids, guarantee.proven_by
