"""pytest fixtures for the fake Canvas.

Enable them with ``pytest_plugins = ["airflow_provider_canvas.testing.fixtures"]`` in a top-level conftest.

``fake_canvas`` is a started server, stopped after the test. ``canvas_connection`` additionally points the
``canvas_default`` Airflow connection at it (through ``AIRFLOW_CONN_CANVAS_DEFAULT``) with the admin token,
and shortens the hook's retry backoff so tests that meet throttling or 5xx stay fast.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeCanvas


@pytest.fixture
def fake_canvas() -> Iterator[FakeCanvas]:
    with FakeCanvas() as canvas:
        yield canvas


@pytest.fixture
def canvas_connection(fake_canvas: FakeCanvas, monkeypatch: pytest.MonkeyPatch) -> FakeCanvas:
    from airflow_provider_canvas.hooks.canvas import CanvasHook  # imports Airflow: only when used

    monkeypatch.setenv("AIRFLOW_CONN_CANVAS_DEFAULT", fake_canvas.connection_json())
    monkeypatch.setattr(CanvasHook, "retry_base_delay", 0.01)
    return fake_canvas
