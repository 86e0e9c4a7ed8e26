"""Walk-through of the Canvas communication-channel operators, sensor and trigger.

List a user's channels, add an e-mail channel (confirmed by an admin token), wait until Canvas shows
it active (the sensor looks once; if the channel is not active yet, the wait goes to the triggerer), delete
it by type and address, and list again.

Run it against the bundled fake Canvas with ``./dev demo``; against a real Canvas, set the
``canvas_default`` connection and trigger it with ``user_id``/``address`` params.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_canvas.operators.communication_channels import (
    CanvasCreateCommunicationChannelOperator,
    CanvasDeleteCommunicationChannelOperator,
    CanvasListCommunicationChannelsOperator,
)
from airflow_provider_canvas.sensors.communication_channels import CanvasCommunicationChannelSensor

with DAG(
    dag_id="canvas_channels_walkthrough",
    description="List, create, wait for, delete and re-list a user's Canvas e-mail channel.",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"user_id": "sis_user_id:demo-student-1", "address": "demo.student.one@example.edu"},
    tags=["canvas", "example"],
):
    # [START howto_operator_canvas_list_channels]
    list_before = CanvasListCommunicationChannelsOperator(
        task_id="list_before",
        user_id="{{ params.user_id }}",
        workflow_state=["unconfirmed", "active"],
    )
    # [END howto_operator_canvas_list_channels]

    # [START howto_operator_canvas_create_channel]
    create_email = CanvasCreateCommunicationChannelOperator(
        task_id="create_email",
        user_id="{{ params.user_id }}",
        channel_type="email",
        address="{{ params.address }}",
        skip_confirmation=True,  # admins only; Canvas ignores it for other users
        if_exists="skip",  # re-runs return the existing channel instead of failing
    )
    # [END howto_operator_canvas_create_channel]

    # [START howto_sensor_canvas_channel_state]
    wait_until_active = CanvasCommunicationChannelSensor(
        task_id="wait_until_active",
        user_id="{{ params.user_id }}",
        address="{{ params.address }}",
        target_state="active",
        deferrable=True,  # any wait runs in the triggerer, not on a worker
        poke_interval=5,
        timeout=600,
    )
    # [END howto_sensor_canvas_channel_state]

    # [START howto_operator_canvas_delete_channel]
    delete_by_address = CanvasDeleteCommunicationChannelOperator(
        task_id="delete_by_address",
        user_id="{{ params.user_id }}",
        channel_type="email",
        address="{{ params.address }}",
        missing_ok=True,
    )
    # [END howto_operator_canvas_delete_channel]

    list_after = CanvasListCommunicationChannelsOperator(task_id="list_after", user_id="{{ params.user_id }}")

    list_before >> create_email >> wait_until_active >> delete_by_address >> list_after
