"""Test-only DAG: every Canvas operator and the sensor under dynamic task mapping.

Users are the fake Canvas's seeded demo students (SIS ids demo-student-1..3); the admin token has a
push-enabled developer key.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_canvas.operators.communication_channels import (
    CanvasCreateCommunicationChannelOperator,
    CanvasDeleteCommunicationChannelOperator,
    CanvasDeletePushTokenOperator,
    CanvasListCommunicationChannelsOperator,
)
from airflow_provider_canvas.sensors.communication_channels import CanvasCommunicationChannelSensor

STUDENTS = [f"sis_user_id:demo-student-{n}" for n in (1, 2, 3)]

with DAG(
    dag_id="canvas_mapping_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):

    @task
    def new_contacts() -> list[dict[str, str]]:
        return [{"user_id": user, "address": f"mapped-{n}@example.edu"} for n, user in enumerate(STUDENTS, 1)]

    contacts = new_contacts()

    listed = CanvasListCommunicationChannelsOperator.partial(
        task_id="list_mapped", channel_type="email"
    ).expand(user_id=STUDENTS)
    created = CanvasCreateCommunicationChannelOperator.partial(
        task_id="create_mapped", skip_confirmation=True
    ).expand_kwargs(contacts)
    waited = CanvasCommunicationChannelSensor.partial(
        task_id="wait_mapped", target_state="active", poke_interval=1, timeout=60, deferrable=True
    ).expand_kwargs(contacts)
    deleted = CanvasDeleteCommunicationChannelOperator.partial(
        task_id="delete_mapped", channel_type="email"
    ).expand_kwargs(contacts)
    gone = CanvasCommunicationChannelSensor.partial(
        task_id="gone_mapped", target_state="absent", poke_interval=1, timeout=60, mode="poke"
    ).expand_kwargs(contacts)
    push_removed = CanvasDeletePushTokenOperator.partial(task_id="push_mapped").expand(
        push_token=["device-token-one", "device-token-two"]
    )

    listed >> created >> waited >> deleted >> gone >> push_removed
