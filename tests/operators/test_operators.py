"""Operator behaviour over real HTTP against the fake Canvas (execute() called directly)."""

from __future__ import annotations

import pytest

from airflow_provider_canvas.exceptions import CanvasDuplicateChannelError, CanvasNotFoundError
from airflow_provider_canvas.operators.communication_channels import (
    CanvasCreateCommunicationChannelOperator,
    CanvasDeleteCommunicationChannelOperator,
    CanvasDeletePushTokenOperator,
    CanvasListCommunicationChannelsOperator,
)


def test_list_filters_by_state_and_type(canvas, student, context):
    def listed(**filters):
        op = CanvasListCommunicationChannelsOperator(task_id="list", user_id=student, **filters)
        return [(c["type"], c["workflow_state"]) for c in op.execute(context)]

    assert listed() == [("email", "active"), ("sms", "unconfirmed")]
    assert listed(workflow_state="active") == [("email", "active")]
    assert listed(channel_type=["sms", "push"]) == [("sms", "unconfirmed")]
    assert listed(workflow_state=["active"], channel_type="sms") == []


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"workflow_state": "retired"}, "workflow_state has unknown values"),
        ({"channel_type": "fax"}, "channel_type has unknown values"),
        ({"channel_type": []}, "non-empty list"),
        ({"workflow_state": 3}, "must be a string"),
    ],
)
def test_list_filter_errors_before_any_request(canvas, student, context, filters, message):
    canvas.clear_requests()
    op = CanvasListCommunicationChannelsOperator(task_id="list", user_id=student, **filters)
    with pytest.raises(ValueError, match=message):
        op.execute(context)
    assert canvas.requests == []


def test_create_skip_returns_existing_unchanged_and_says_so(canvas, student, context):
    op = CanvasCreateCommunicationChannelOperator(
        task_id="create", user_id=student, address="DEMO-STUDENT-2@example.edu"
    )
    channel = op.execute(context)
    assert channel["address"] == "demo-student-2@example.edu"  # Canvas's stored casing, untouched
    assert context["ti"].pushed == {"outcome": "existing"}
    assert len(canvas.channels(student)) == 2


def test_create_new_channel_reports_created(canvas, student, context):
    op = CanvasCreateCommunicationChannelOperator(
        task_id="create", user_id=student, address="fresh@example.edu", skip_confirmation=True
    )
    assert op.execute(context)["workflow_state"] == "active"
    assert context["ti"].pushed == {"outcome": "created"}
    assert op.canvas_user_id == student


def test_create_if_exists_fail_raises_canvas_duplicate(canvas, student, context):
    op = CanvasCreateCommunicationChannelOperator(
        task_id="create", user_id=student, address="demo-student-2@example.edu", if_exists="fail"
    )
    with pytest.raises(CanvasDuplicateChannelError, match="unique!"):
        op.execute(context)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"if_exists": "replace"}, "if_exists must be 'skip' or 'fail'"),
        ({"channel_type": "fax"}, "channel_type must be one of"),
    ],
)
def test_create_construction_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CanvasCreateCommunicationChannelOperator(task_id="create", user_id=1, address="a@b.edu", **kwargs)


def test_delete_missing_ok_is_a_noop(canvas, student, context):
    op = CanvasDeleteCommunicationChannelOperator(
        task_id="delete", user_id=student, channel_type="email", address="nobody@example.edu", missing_ok=True
    )
    assert op.execute(context) is None
    strict = CanvasDeleteCommunicationChannelOperator(
        task_id="delete", user_id=student, channel_type="email", address="nobody@example.edu"
    )
    with pytest.raises(CanvasNotFoundError, match="does not exist"):
        strict.execute(context)


def test_delete_by_id_returns_retired(canvas, student, context):
    sms = next(c for c in canvas.channels(student) if c["type"] == "sms")
    op = CanvasDeleteCommunicationChannelOperator(
        task_id="delete", user_id=student, channel_id=str(sms["id"])
    )
    assert op.execute(context)["workflow_state"] == "retired"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channel_id": 5, "address": "a@b.edu"}, "not both"),
        ({"channel_id": 5, "channel_type": "email"}, "not both"),
        ({}, "say which channel to delete"),
        ({"address": "a@b.edu"}, "say which channel to delete"),
        ({"channel_type": "email"}, "say which channel to delete"),
    ],
)
def test_delete_needs_exactly_one_target(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CanvasDeleteCommunicationChannelOperator(task_id="delete", user_id=1, **kwargs)


def test_delete_push_token(canvas, context):
    canvas.add_channel(canvas.admin_user_id, "push", "push")
    op = CanvasDeletePushTokenOperator(task_id="push", push_token="device-token-123456")
    assert op.execute(context) == {"success": True}


def test_delete_missing_ok_still_fails_for_an_unknown_user(canvas, context):
    op = CanvasDeleteCommunicationChannelOperator(
        task_id="delete", user_id="sis_user_id:typo", channel_type="email", address="a@b.edu", missing_ok=True
    )
    with pytest.raises(CanvasNotFoundError):
        op.execute(context)


def test_extra_link_needs_a_numeric_user_id(canvas, student, context):
    from airflow_provider_canvas.links.canvas import CanvasUserLink

    link = CanvasUserLink()
    op = CanvasListCommunicationChannelsOperator(task_id="list", user_id="sis_user_id:demo-student-2")
    assert link.get_link(op, ti_key=None) == ""  # Canvas's web pages take numeric ids only
    op.execute(context)
    assert link.get_link(op, ti_key=None) == f"{canvas.base_url}/users/{student}"
    assert link.get_link(
        CanvasListCommunicationChannelsOperator(task_id="l", user_id="self"), ti_key=None
    ) == (f"{canvas.base_url}/profile")
