"""The deferrable path: the trigger polls the fake Canvas asynchronously; the sensor turns events into results."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from airflow_provider_canvas.exceptions import CanvasNotFoundError
from airflow_provider_canvas.hooks.canvas import CanvasHook
from airflow_provider_canvas.sensors.communication_channels import CanvasCommunicationChannelSensor
from airflow_provider_canvas.testing import Fault
from airflow_provider_canvas.triggers.communication_channels import CanvasCommunicationChannelTrigger


@pytest.fixture
def canvas(canvas_connection, monkeypatch):
    monkeypatch.setattr(CanvasHook, "retry_base_delay", 0.01)
    return canvas_connection


@pytest.fixture
def student(canvas):
    (channel,) = [c for c in canvas.all_channels() if c["address"] == "demo-student-2@example.edu"]
    return channel["user_id"]


def first_event(trigger, timeout=20.0):
    async def run():
        async for event in trigger.run():
            return event.payload
        return None

    return asyncio.run(asyncio.wait_for(run(), timeout))


def rebuild(trigger):
    """What the triggerer does after a restart: re-create the trigger from its serialised form."""
    classpath, kwargs = trigger.serialize()
    kwargs = json.loads(json.dumps(kwargs))  # must be JSON-plain
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**kwargs)


def test_serialised_form_is_json_plain_and_round_trips(student):
    trigger = CanvasCommunicationChannelTrigger(
        user_id=student, target_state="active", channel_type="email", address="a@b.edu", timeout_at=123.5
    )
    copy = rebuild(trigger)
    assert copy.serialize() == trigger.serialize()
    assert (
        copy.serialize()[0]
        == "airflow_provider_canvas.triggers.communication_channels.CanvasCommunicationChannelTrigger"
    )


def test_success_event_carries_the_channel(canvas, student):
    event = first_event(
        CanvasCommunicationChannelTrigger(
            user_id="sis_user_id:demo-student-2",
            target_state="unconfirmed",
            channel_type="sms",
            address="+15555550102",
        )
    )
    assert event["status"] == "success"
    assert event["channel"]["user_id"] == student
    assert event["channel"]["workflow_state"] == "unconfirmed"


def test_waits_across_polls_until_absent(canvas, student):
    sms = next(c for c in canvas.channels(student) if c["type"] == "sms")
    hook = CanvasHook()
    canvas.clear_requests()

    def delete_after_the_first_poll() -> None:  # not on a clock: a slow first poll must not race it
        deadline = time.monotonic() + 15
        while not any(r.method == "GET" for r in canvas.requests) and time.monotonic() < deadline:
            time.sleep(0.02)
        hook.delete_communication_channel(student, sms["id"])

    timer = threading.Thread(target=delete_after_the_first_poll)
    timer.start()
    try:
        event = first_event(
            CanvasCommunicationChannelTrigger(
                user_id=student, target_state="absent", channel_id=sms["id"], poke_interval=0.2
            )
        )
    finally:
        timer.join()
    assert event["status"] == "success"
    assert event["channel"] is None
    assert event["polls"] >= 2


def test_timeout_event_names_the_last_state(canvas, student):
    event = first_event(
        CanvasCommunicationChannelTrigger(
            user_id=student,
            target_state="active",
            channel_type="sms",
            address="+15555550102",
            poke_interval=0.2,
            timeout_at=time.time() + 0.5,
        )
    )
    assert event["status"] == "timeout"
    assert event["last_state"] == "unconfirmed"


def test_error_event_for_unknown_user_and_sensor_reraises_typed(canvas):
    event = first_event(
        CanvasCommunicationChannelTrigger(
            user_id="sis_user_id:nobody", target_state="present", channel_type="email", address="x@y.edu"
        )
    )
    assert event["status"] == "error"
    assert event["error_type"] == "CanvasNotFoundError"
    sensor = CanvasCommunicationChannelSensor(task_id="s", user_id="sis_user_id:nobody", address="x@y.edu")
    with pytest.raises(CanvasNotFoundError, match="The specified resource does not exist"):
        sensor.execute_complete({}, event)


def test_throttling_and_5xx_inside_the_trigger_are_retried(canvas, student):
    canvas.inject(Fault.throttle(), times=2)
    canvas.inject(Fault.status(503), times=1)
    event = first_event(
        CanvasCommunicationChannelTrigger(
            user_id=student, target_state="active", channel_type="email", address="demo-student-2@example.edu"
        )
    )
    assert event["status"] == "success"
    assert canvas.stats.throttled >= 2


def test_survives_a_triggerer_restart(canvas, student):
    deadline = time.time() + 30
    trigger = CanvasCommunicationChannelTrigger(
        user_id=student,
        target_state="absent",
        channel_type="sms",
        address="+15555550102",
        poke_interval=0.2,
        timeout_at=deadline,
    )

    async def run_briefly():
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(trigger.run().__anext__(), 0.5)  # still waiting when the triggerer dies

    asyncio.run(run_briefly())
    CanvasHook().delete_communication_channel(student, channel_type="sms", address="+15555550102")
    restarted = rebuild(trigger)
    assert restarted.timeout_at == deadline  # the original deadline, not a fresh one
    assert first_event(restarted)["status"] == "success"


def test_trigger_never_carries_or_logs_the_token(canvas, student, captured_logs):
    trigger = CanvasCommunicationChannelTrigger(
        user_id=student, target_state="present", channel_type="email", address="demo-student-2@example.edu"
    )
    assert first_event(trigger)["status"] == "success"
    assert canvas.admin_token not in json.dumps(trigger.serialize())
    assert canvas.admin_token not in captured_logs.text
    assert "demo-student-2@example.edu" not in "\n".join(captured_logs.messages("info"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"address": "a@b.edu", "channel_id": 4}, "not both"),
        ({}, "say which channel to watch"),
    ],
)
def test_sensor_construction_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CanvasCommunicationChannelSensor(task_id="s", user_id=1, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"address": "a@b.edu", "target_state": "confirmed"}, "target_state must be one of"),
        ({"address": "not-an-email"}, "address"),
        ({"address": "a@b.edu", "channel_type": "fax"}, "channel_type"),
        ({"channel_id": "x"}, "channel_id"),
        ({"address": "a@b.edu", "user_id": "1/../2"}, "user_id"),
    ],
)
def test_sensor_checks_input_before_deferring_or_poking(canvas, kwargs, message):
    kwargs.setdefault("user_id", 1)
    sensor = CanvasCommunicationChannelSensor(task_id="s", deferrable=True, **kwargs)
    canvas.clear_requests()
    with pytest.raises(ValueError, match=message):
        sensor.execute({})
    with pytest.raises(ValueError, match=message):
        sensor.poke({})
    assert canvas.requests == []


def test_poke_mode_returns_the_channel(canvas, student):
    sensor = CanvasCommunicationChannelSensor(
        task_id="s", user_id=student, address="DEMO-STUDENT-2@example.edu", target_state="present"
    )
    result = sensor.poke({})
    assert result.is_done
    assert result.xcom_value["address"] == "demo-student-2@example.edu"
    waiting = CanvasCommunicationChannelSensor(
        task_id="s", user_id=student, channel_type="sms", address="+15555550102", target_state="active"
    )
    assert not waiting.poke({}).is_done


def test_execute_complete_timeout_and_soft_fail():
    from airflow_provider_canvas._compat import AirflowSensorTimeout, AirflowSkipException

    sensor = CanvasCommunicationChannelSensor(task_id="s", user_id=1, address="a@b.edu", timeout=30)
    with pytest.raises(AirflowSensorTimeout, match="did not become active within 30s"):
        sensor.execute_complete({}, {"status": "timeout", "last_state": "unconfirmed"})
    soft = CanvasCommunicationChannelSensor(task_id="s", user_id=1, address="a@b.edu", soft_fail=True)
    with pytest.raises(AirflowSkipException):
        soft.execute_complete({}, {"status": "timeout", "last_state": "absent"})
    # The trigger leaves the address out of its event (the triggerer logs events); the sensor restores it.
    assert sensor.execute_complete({}, {"status": "success", "channel": {"id": 3, "user_id": 9}}) == {
        "id": 3,
        "user_id": 9,
        "address": "a@b.edu",
    }
    assert sensor.canvas_user_id == 9


@pytest.mark.parametrize("setting", ["true", "false"])
def test_deferrable_defaults_to_airflow_config(setting):
    code = (
        "from airflow_provider_canvas.sensors.communication_channels import CanvasCommunicationChannelSensor as S;"
        "print(S(task_id='s', user_id=1, address='a@b.edu').deferrable)"
    )
    env = {**os.environ, "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": setting}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == str(setting == "true")


def test_waits_until_the_user_confirms(canvas, student):
    created = CanvasHook().create_communication_channel(
        student, channel_type="email", address="later@example.edu"
    )
    assert created["workflow_state"] == "unconfirmed"
    timer = threading.Timer(0.5, canvas.confirm, args=(created["id"],))
    timer.start()
    try:
        event = first_event(
            CanvasCommunicationChannelTrigger(
                user_id=student, target_state="active", channel_id=str(created["id"]), poke_interval=0.2
            )
        )
    finally:
        timer.join()
    assert event["status"] == "success"
    assert event["channel"]["workflow_state"] == "active"
    assert event["polls"] >= 2


def test_deferrable_sensor_looks_once_before_deferring(canvas, student):
    from airflow_provider_canvas._compat import TaskDeferred

    done = CanvasCommunicationChannelSensor(
        task_id="s", user_id=student, address="demo-student-2@example.edu", deferrable=True, timeout=60
    )
    canvas.clear_requests()
    assert done.execute({})["address"] == "demo-student-2@example.edu"  # already active: no trigger
    assert len(canvas.requests) == 1
    waiting = CanvasCommunicationChannelSensor(
        task_id="s", user_id=student, channel_type="sms", address="+15555550102", deferrable=True, timeout=60
    )
    with pytest.raises(TaskDeferred) as deferred:
        waiting.execute({})
    assert isinstance(deferred.value.trigger, CanvasCommunicationChannelTrigger)
    assert deferred.value.trigger.canvas_conn_id == "canvas_default"


def test_every_operator_and_the_sensor_template_the_connection_id():
    from airflow_provider_canvas.operators import communication_channels, contact_sync
    from airflow_provider_canvas.operators.base import CanvasBaseOperator

    classes = [
        communication_channels.CanvasListCommunicationChannelsOperator,
        communication_channels.CanvasCreateCommunicationChannelOperator,
        communication_channels.CanvasDeleteCommunicationChannelOperator,
        communication_channels.CanvasDeletePushTokenOperator,
        contact_sync.CanvasSyncCommunicationChannelsOperator,
    ]
    for cls in classes:
        assert issubclass(cls, CanvasBaseOperator), cls
        assert "canvas_conn_id" in cls.template_fields, cls
    assert "canvas_conn_id" in CanvasCommunicationChannelSensor.template_fields
