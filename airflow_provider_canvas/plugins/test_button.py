"""Make the UI's Test button work for ``canvas`` connections on Airflow 3.3.x.

Airflow 3.3's UI sends ``port: 0`` when a connection has no port (``Number(null)`` is 0). Since 3.3.1 the
API then compares 0 with the stored NULL, decides the caller is testing another endpoint and refuses to
reuse the stored token: "400 The host or port to test differs from the stored connection". Our form hides
Port, so every Canvas connection made in the UI hit it. Airflow fixed the comparison in 3.4.0
(apache/airflow PR 73298: port 0 counts as no port).

Until then this API-server middleware applies the same rule, only to ``canvas`` Test requests: it drops a
``port`` of 0 from the body, so Airflow keeps the stored port. Nothing addresses port 0, so this never
points the stored token at another destination; a changed host is still refused by Airflow. It is only
installed on the Airflow versions that have the bug, and touches no other request.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from airflow_provider_canvas._compat import AirflowPlugin

__all__ = ["CanvasTestButtonPlugin", "CanvasTestPortFix", "fixed_test_body", "needs_port_fix"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TEST_PATH = "/api/v2/connections/test"
# A Test request is a few hundred bytes; anything bigger is passed through untouched, unread.
MAX_BODY = 64 * 1024


def needs_port_fix(airflow_version: str) -> bool:
    """True on the Airflow releases whose Test route rejects ``port: 0`` (3.3.x; fixed in 3.4.0)."""
    from packaging.version import Version

    return Version("3.3.0") <= Version(airflow_version) < Version("3.4.0b1")


def fixed_test_body(body: bytes) -> bytes | None:
    """The Test request without ``port: 0`` when it tests a ``canvas`` connection, else None (unchanged)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("conn_type") != "canvas":
        return None
    port = data.get("port")
    if port != 0 or isinstance(port, bool):
        return None
    del data["port"]
    return json.dumps(data).encode()


class CanvasTestPortFix:
    """Pure ASGI middleware: rewrites only ``POST .../api/v2/connections/test`` bodies, see the module doc."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith(TEST_PATH):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                fixed = fixed_test_body(body)
                if fixed is not None:
                    messages = [{"type": "http.request", "body": fixed, "more_body": False}]
                    scope = dict(scope)
                    scope["headers"] = [
                        (name, str(len(fixed)).encode() if name.lower() == b"content-length" else value)
                        for name, value in scope["headers"]
                    ]
                break
            if len(body) > MAX_BODY:
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _middlewares() -> list[dict[str, Any]]:
    from airflow import __version__

    if not needs_port_fix(__version__):
        return []
    return [{"middleware": CanvasTestPortFix, "args": [], "kwargs": {}, "name": "Canvas Test button: port 0"}]


class CanvasTestButtonPlugin(AirflowPlugin):
    """Registered by the provider; Admin > Plugins lists it as ``canvas_test_button``."""

    name = "canvas_test_button"
    fastapi_root_middlewares = _middlewares()
