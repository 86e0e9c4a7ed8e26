from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_canvas.hooks.canvas import CanvasHook
from hostile.server import Behaviour, HostileServer

TOKEN = "Hostile-SECRET-token-8c1f2e"
PUSH_TOKEN = "device-PUSH-secret-44d1a9"


def connect(monkeypatch: pytest.MonkeyPatch, host: str, token: str = TOKEN, **extra: Any) -> None:
    """Point ``canvas_default`` at ``host`` (plain http is fine on loopback)."""
    extra.setdefault("timeout", 5)
    extra.setdefault("max_retries", 0)
    conn = {"conn_type": "canvas", "host": host, "password": token, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_CANVAS_DEFAULT", json.dumps(conn))


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., HostileServer]]:
    """Start a hostile server answering with ``behaviour`` and point ``canvas_default`` at it.

    ``hostile(behaviour, **extra)``: extras of the connection (``timeout``, ``max_response_bytes``, ...).
    Every server started is stopped when the test ends, also when it is still dripping or streaming.
    """
    monkeypatch.setattr(CanvasHook, "retry_base_delay", 0.01)
    servers: list[HostileServer] = []

    def start(behaviour: Behaviour, token: str = TOKEN, **extra: Any) -> HostileServer:
        server = HostileServer(behaviour)
        servers.append(server)
        connect(monkeypatch, server.url, token, **extra)
        return server

    yield start
    for server in servers:
        server.stop()
