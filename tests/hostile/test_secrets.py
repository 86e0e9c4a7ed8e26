"""A server that echoes secrets back gets none of them into errors, logs, events or the Test button.

The hostile server echoes the ``Authorization`` header and the push token it was sent (as sent, lower-
and upper-cased, percent-encoded), uses the token as the host of a ``Location`` or ``next`` link, or as a
path segment of a same-origin ``next`` link. Everything an error can be shown or shipped as is searched:
message, repr, state, arguments, chained causes, traceback and pickle; and every log event at DEBUG.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
import requests
from reliability.test_token_safety import everything_about, first_event

from airflow_provider_canvas.exceptions import (
    CanvasConnectionError,
    CanvasError,
    CanvasResponseError,
    CanvasServerError,
    CanvasValidationError,
)
from airflow_provider_canvas.hooks._bulk import ChannelChange
from airflow_provider_canvas.hooks.canvas import CanvasHook
from airflow_provider_canvas.hooks.canvas_async import CanvasAsyncHook
from airflow_provider_canvas.triggers.communication_channels import CanvasCommunicationChannelTrigger
from hostile.cases import channel
from hostile.conftest import PUSH_TOKEN, TOKEN, connect
from hostile.server import Conn, Request, free_port

SECRETS = (TOKEN, PUSH_TOKEN)


def forms(secret: str) -> list[str]:
    return [secret, secret.lower(), secret.upper(), quote(secret, safe=""), quote(secret, safe="").lower()]


def echo(request: Request) -> str:
    """Every form of every secret the request carried, as a chatty server would repeat them."""
    sent = [request.headers.get("authorization", ""), request.form.get("push_token", "")]
    sent.append(request.form.get("communication_channel[token]", ""))
    return " | ".join(form for value in sent if value for form in forms(value))


def assert_clean(*texts: str) -> None:
    for text in texts:
        lowered = text.lower()
        for secret in SECRETS:
            for form in forms(secret):
                assert form.lower() not in lowered, f"{form!r} in {text[:400]!r}"


# ----- echoed in an error body -----------------------------------------------------------------------

ECHOES: dict[str, Callable[[Request, Conn], None]] = {
    "JSON errors list": lambda r, c: c.answer(400, {"errors": [{"message": f"bad request: {echo(r)}"}]}),
    "JSON errors by attribute": lambda r, c: c.answer(
        400, {"errors": {"token": [{"attribute": "token", "type": "invalid", "message": echo(r)}]}}
    ),
    "plain text 500": lambda r, c: c.answer(
        500, raw=f"upstream said {echo(r)}".encode(), headers=[("Content-Type", "text/plain")]
    ),
    "JSON message 403": lambda r, c: c.answer(403, {"message": echo(r)}),
}

CALLS: dict[str, Callable[[], Any]] = {
    "list": lambda: CanvasHook().list_communication_channels(7),
    "create push channel": lambda: CanvasHook().create_communication_channel(
        "self", channel_type="push", token=PUSH_TOKEN
    ),
    "delete push token": lambda: CanvasHook().delete_push_token(PUSH_TOKEN),
    "async list": lambda: asyncio.run(CanvasAsyncHook().alist_communication_channels(7)),
}


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("shape", list(ECHOES))
def test_echoed_secrets_never_reach_the_error_or_the_logs(shape, call, hostile, captured_logs):
    server = hostile(ECHOES[shape], max_retries=1)
    with pytest.raises(CanvasError) as info:
        CALLS[call]()
    assert server.requests and echo(server.requests[0])  # the echo was really sent back
    assert isinstance(info.value, CanvasValidationError | CanvasServerError | CanvasError)
    assert info.value.messages or shape == "plain text 500", info.value  # Canvas's words are kept...
    assert "***" in str(info.value)  # ...with the secrets replaced
    assert_clean(everything_about(info.value), captured_logs.text)


def test_the_trigger_event_and_the_sensor_error_are_clean(hostile):
    hostile(ECHOES["JSON errors list"], max_retries=1)
    event = first_event(
        CanvasCommunicationChannelTrigger(
            user_id=7, target_state="present", channel_type="email", address="a@b.cd"
        )
    )
    assert (event["status"], event["error_type"]) == ("error", "CanvasValidationError")
    assert "***" in json.dumps(event)
    assert_clean(json.dumps(event))


def test_bulk_results_are_clean(hostile, captured_logs):
    hostile(ECHOES["plain text 500"], max_retries=1)
    hook = CanvasHook()
    listed = list(hook.iter_communication_channels_for_users([7, 8]))
    applied = list(
        hook.apply_communication_channel_changes([ChannelChange("create", "7", "email", "n@example.edu")])
    )
    errors = [result for _, result in listed + applied]
    assert len(errors) == 3 and all(isinstance(e, CanvasServerError) for e in errors)
    assert_clean(*(everything_about(e) for e in errors), captured_logs.text)


def test_the_test_button_message_is_clean(hostile):
    def rejected(request: Request, conn: Conn) -> None:
        conn.answer(
            401,
            {"errors": [{"message": f"Invalid access token {echo(request)}."}]},
            [("WWW-Authenticate", 'Bearer realm="canvas-lms"')],
        )

    hostile(rejected)
    ok, message = CanvasHook().test_connection()
    assert not ok and "Canvas rejected the access token (Invalid access token Bearer ***" in message
    assert_clean(message)


def test_a_user_name_that_echoes_the_token_is_clean_in_the_test_button(hostile):
    hostile(lambda r, c: c.answer(200, {"id": TOKEN, "name": f"Mallory {echo(r)}"}))
    ok, message = CanvasHook().test_connection()
    assert ok and "as Mallory Bearer ***" in message and "(user id ***)" in message
    assert_clean(message)


# ----- the token as a host name or a path ------------------------------------------------------------


def test_a_redirect_to_the_token_as_host_name_is_clean(hostile):
    """The error names the redirect's origin, lower-cased by URL parsing, which Airflow's masker misses."""
    hostile(lambda r, c: c.answer(302, {}, [("Location", f"https://{TOKEN}.attacker.example/x")]))
    with pytest.raises(
        CanvasResponseError, match=r"redirecting to https://\*\*\*\.attacker\.example:443"
    ) as info:
        CanvasHook().list_communication_channels(7)
    assert_clean(everything_about(info.value))


@pytest.mark.parametrize(
    "link", [f"https://{TOKEN}/api/v1/x", f"https://{TOKEN.lower()}:8443/x", f"//{TOKEN}/x"]
)
def test_a_next_link_to_the_token_as_host_name_is_refused_and_clean(link, hostile):
    hostile(lambda r, c: c.answer(200, [channel(7)], [("Link", f'<{link}>; rel="next"')]))
    with pytest.raises(CanvasResponseError, match="Refused to follow a pagination link") as info:
        CanvasHook().list_communication_channels(7)
    assert_clean(everything_about(info.value))
    event = first_event(
        CanvasCommunicationChannelTrigger(
            user_id=7, target_state="present", channel_type="email", address="a@b.cd"
        )
    )
    assert event["error_type"] == "CanvasResponseError"
    assert_clean(json.dumps(event))


def test_a_same_origin_next_link_with_the_token_in_its_path_is_clean_in_errors_and_logs(
    hostile, captured_logs
):
    def answer(request: Request, conn: Conn) -> None:
        if TOKEN.lower() in request.path.lower():
            conn.answer(404, {"errors": [{"message": "The specified resource does not exist."}]})
        else:
            link = f'<http://{request.headers["host"]}/api/v1/users/{quote(TOKEN)}/x?page=2>; rel="next"'
            conn.answer(200, [channel(7)], [("Link", link)])

    server = hostile(answer)
    with pytest.raises(CanvasError) as info:
        CanvasHook().list_communication_channels(7)
    assert len(server.requests) == 2  # the link was same-origin, so it was followed
    assert "/api/v1/users/***/x" in str(info.value)
    assert_clean(everything_about(info.value), captured_logs.text)
    assert any("/api/v1/users/***/x" in m for m in captured_logs.messages("info"))


# ----- no reference to the request -------------------------------------------------------------------


def _references(root: object, depth: int = 4) -> list[object]:
    """Objects reachable from ``root`` through exception chains, attributes and containers."""
    found: list[object] = []
    pending: list[tuple[object, int]] = [(root, 0)]
    seen: set[int] = set()
    while pending:
        value, level = pending.pop()
        if id(value) in seen or level > depth:
            continue
        seen.add(id(value))
        found.append(value)
        children: list[object] = []
        if isinstance(value, BaseException):
            children += [value.__context__, value.__cause__, *value.args]
        if isinstance(value, dict):
            children += list(value.values())
        elif isinstance(value, list | tuple | set):
            children += list(value)
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            children += list(vars(value).values())
        pending += [(child, level + 1) for child in children if child is not None]
    return found


@pytest.mark.parametrize("max_retries", [0, 2])
def test_a_refused_connection_leaves_no_request_behind(max_retries, monkeypatch):
    connect(monkeypatch, f"http://127.0.0.1:{free_port()}", max_retries=max_retries)
    monkeypatch.setattr(CanvasHook, "retry_base_delay", 0.01)
    with pytest.raises(CanvasConnectionError) as info:
        CanvasHook().list_communication_channels(7)
    error = info.value
    assert error.__context__ is None and error.__cause__ is None
    reachable = _references(error)
    assert not [
        v
        for v in reachable
        if isinstance(v, requests.PreparedRequest | requests.Request | BaseException) and v is not error
    ]
    assert_clean(everything_about(error))


def test_a_refused_connection_in_the_async_hook_leaves_no_request_behind(monkeypatch):
    connect(monkeypatch, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(CanvasConnectionError) as info:
        asyncio.run(CanvasAsyncHook().alist_communication_channels(7))
    assert info.value.__context__ is None and info.value.__cause__ is None
