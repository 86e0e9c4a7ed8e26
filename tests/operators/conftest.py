from __future__ import annotations

import pytest

from airflow_provider_canvas.hooks.canvas import CanvasHook


class RecordingTaskInstance:
    """Just enough of a task instance for ``execute()``: records what an operator pushes to XCom."""

    def __init__(self) -> None:
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


@pytest.fixture
def context():
    return {"ti": RecordingTaskInstance()}


@pytest.fixture
def canvas(canvas_connection, monkeypatch):
    monkeypatch.setattr(CanvasHook, "retry_base_delay", 0.01)
    return canvas_connection


@pytest.fixture
def student(canvas):
    """The seeded demo student 2: one active e-mail and one unconfirmed SMS."""
    (channel,) = [c for c in canvas.all_channels() if c["address"] == "demo-student-2@example.edu"]
    return channel["user_id"]
