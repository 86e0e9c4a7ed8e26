"""The contact sync against a hostile server: each hostile answer is one reported item, and no secret
reaches the failure message, the XCom report or the plan file.

Only the operator's stable public surface is used (constructor, ``execute`` with a ``ti`` that records
``xcom_push``), so this test holds whatever the sync's internals look like.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_canvas._compat import AirflowFailException
from airflow_provider_canvas.operators.communication_channels import CanvasSyncCommunicationChannelsOperator
from hostile.cases import channel
from hostile.conftest import TOKEN
from hostile.server import Conn, Request
from hostile.test_secrets import assert_clean, echo


class RecordingTaskInstance:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def server(request: Request, conn: Conn) -> None:
    """User 7's listing is a nesting bomb, user 8's create echoes the token, user 9 is served normally."""
    user = int(request.path.split("/")[4])
    if request.method == "GET":
        if user == 7:
            conn.answer(200, raw=b"[" * 200_000)
        else:
            conn.answer(200, [])
    elif user == 8:
        conn.answer(
            400, {"errors": {"address": [{"attribute": "address", "message": f"bad {echo(request)}"}]}}
        )
    else:
        conn.answer(200, channel(user, 1, "unconfirmed"))


def test_hostile_answers_are_reported_per_item_without_secrets(hostile, tmp_path: Path):
    hostile(server, max_retries=1)
    plan_path = tmp_path / "plan.jsonl"
    ti = RecordingTaskInstance()
    operator = CanvasSyncCommunicationChannelsOperator(
        task_id="sync",
        desired={7: ["a7@example.edu"], 8: ["a8@example.edu"], 9: ["a9@example.edu"]},
        mode="add_only",
        plan_path=str(plan_path),
    )
    with pytest.raises(AirflowFailException) as info:
        operator.execute({"ti": ti})
    report = ti.pushed["return_value"]
    failures = {f["user"]: f for f in report["failures"]}
    assert set(failures) == {"7", "8"}, report  # one item each; user 9 was created
    assert report["created"] == 1
    assert "nested deeper" in failures["7"]["message"]
    assert "***" in failures["8"]["message"]
    texts = [str(info.value), repr(info.value), json.dumps(report), plan_path.read_text(encoding="utf-8")]
    assert_clean(*texts)
    assert TOKEN not in "".join(texts)
