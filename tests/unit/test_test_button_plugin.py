"""The Airflow 3.3 Test-button fix: which requests it rewrites, and that it leaves everything else alone."""

from __future__ import annotations

import asyncio
import json

import pytest

from airflow_provider_canvas.plugins.test_button import CanvasTestPortFix, fixed_test_body, needs_port_fix

UI_BODY = {
    "conn_type": "canvas",
    "connection_id": "canvas_ui",
    "host": "https://canvas.example.edu",
    "password": "***",
    "port": 0,
    "login": "",
    "schema": "",
}


def test_drops_port_zero_from_a_canvas_test():
    fixed = fixed_test_body(json.dumps(UI_BODY).encode())
    assert fixed is not None
    assert json.loads(fixed) == {key: value for key, value in UI_BODY.items() if key != "port"}


@pytest.mark.parametrize(
    "body",
    [
        {**UI_BODY, "port": 8443},  # a real port is Airflow's to compare
        {**UI_BODY, "port": None},
        {**UI_BODY, "port": False},
        {key: value for key, value in UI_BODY.items() if key != "port"},
        {**UI_BODY, "conn_type": "http"},  # other connection types are not ours to touch
        [UI_BODY],
    ],
)
def test_leaves_other_bodies_alone(body):
    assert fixed_test_body(json.dumps(body).encode()) is None


def test_leaves_unparsable_bodies_alone():
    assert fixed_test_body(b"{not json") is None


@pytest.mark.parametrize(
    ("version", "needed"),
    [
        ("3.0.6", False),
        ("3.2.2", False),
        ("3.3.0", True),
        ("3.3.2", True),
        ("3.4.0b1", False),
        ("3.4.0", False),
    ],
)
def test_installed_only_where_airflow_has_the_bug(version, needed):
    assert needs_port_fix(version) is needed


def _through_middleware(path: str, chunks: list[bytes], method: str = "POST") -> tuple[bytes, dict]:
    seen: dict = {}

    async def app(scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen["body"], seen["headers"] = body, dict(scope["headers"])

    async def run():
        incoming = [
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
            for i, chunk in enumerate(chunks)
        ]

        async def receive():
            return incoming.pop(0)

        length = str(sum(map(len, chunks))).encode()
        scope = {"type": "http", "method": method, "path": path, "headers": [(b"content-length", length)]}
        await CanvasTestPortFix(app)(scope, receive, None)

    asyncio.run(run())
    return seen["body"], seen["headers"]


def test_middleware_rewrites_a_chunked_test_request_and_its_length():
    raw = json.dumps(UI_BODY).encode()
    body, headers = _through_middleware("/api/v2/connections/test", [raw[:20], raw[20:]])
    assert "port" not in json.loads(body)
    assert headers[b"content-length"] == str(len(body)).encode()


def test_middleware_works_under_a_base_url_prefix():
    body, _ = _through_middleware("/airflow/api/v2/connections/test", [json.dumps(UI_BODY).encode()])
    assert "port" not in json.loads(body)


@pytest.mark.parametrize(
    ("path", "method"), [("/api/v2/connections", "POST"), ("/api/v2/connections/test", "PATCH")]
)
def test_middleware_passes_other_requests_through_byte_for_byte(path, method):
    raw = json.dumps(UI_BODY).encode()
    body, headers = _through_middleware(path, [raw], method)
    assert body == raw
    assert headers[b"content-length"] == str(len(raw)).encode()
