from __future__ import annotations

import pytest

from airflow_provider_canvas.hooks.canvas import CanvasHook


@pytest.fixture
def make_hook(fake_canvas, monkeypatch):
    """A CanvasHook on a ``canvas_default`` connection to the fake Canvas, with fast retries."""
    monkeypatch.setattr(CanvasHook, "retry_base_delay", 0.01)
    hooks: list[CanvasHook] = []

    def make(token: str | None = None, **extra) -> CanvasHook:
        extra.setdefault("timeout", 5)
        monkeypatch.setenv("AIRFLOW_CONN_CANVAS_DEFAULT", fake_canvas.connection_json(token=token, **extra))
        hook = CanvasHook()
        hooks.append(hook)
        return hook

    yield make
    for hook in hooks:
        hook.close()


@pytest.fixture
def hook(make_hook):
    return make_hook()
