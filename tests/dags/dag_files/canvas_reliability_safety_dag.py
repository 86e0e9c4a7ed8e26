"""Test-only DAG: every Canvas operator and the sensor (poke and deferred) in one run, so a test can search
its output, XComs and rendered fields for the access token, the push token and student addresses.

The user, addresses and push token come from params: the test chooses values it then searches for.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_canvas.operators.communication_channels import (
    CanvasCreateCommunicationChannelOperator,
    CanvasDeleteCommunicationChannelOperator,
    CanvasDeletePushTokenOperator,
    CanvasListCommunicationChannelsOperator,
    CanvasSyncCommunicationChannelsOperator,
)
from airflow_provider_canvas.sensors.communication_channels import CanvasCommunicationChannelSensor

with DAG(
    dag_id="canvas_reliability_safety",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "user": "sis_user_id:demo-student-1",
        "address": "placeholder@example.edu",
        "sms": "+15555550199",
        "sync_address": "placeholder-sync@example.edu",
        "push_token": "placeholder-token",
    },
):

    @task(show_return_value_in_logs=False)  # the rows are student addresses: no INFO log of them
    def desired_rows(params=None) -> list[dict[str, str]]:
        return [{"user_id": params["user"], "address": params["sync_address"]}]

    listed = CanvasListCommunicationChannelsOperator(task_id="list", user_id="{{ params.user }}")
    create_email = CanvasCreateCommunicationChannelOperator(
        task_id="create_email",
        user_id="{{ params.user }}",
        address="{{ params.address }}",
        skip_confirmation=True,
    )
    wait_poke = CanvasCommunicationChannelSensor(
        task_id="wait_poke",
        user_id="{{ params.user }}",
        address="{{ params.address }}",
        target_state="active",
        poke_interval=1,
        timeout=60,
        mode="poke",
        deferrable=False,
    )
    create_sms = CanvasCreateCommunicationChannelOperator(
        task_id="create_sms", user_id="{{ params.user }}", channel_type="sms", address="{{ params.sms }}"
    )
    wait_deferred = CanvasCommunicationChannelSensor(
        task_id="wait_deferred",
        user_id="{{ params.user }}",
        channel_type="sms",
        address="{{ params.sms }}",
        target_state="present",
        poke_interval=1,
        timeout=60,
        deferrable=True,
    )
    delete_by_id = CanvasDeleteCommunicationChannelOperator(
        task_id="delete_by_id",
        user_id="{{ params.user }}",
        channel_id="{{ ti.xcom_pull(task_ids='create_sms')['id'] }}",
    )
    delete_by_address = CanvasDeleteCommunicationChannelOperator(
        task_id="delete_by_address",
        user_id="{{ params.user }}",
        channel_type="email",
        address="{{ params.address }}",
    )
    gone = CanvasCommunicationChannelSensor(
        task_id="gone",
        user_id="{{ params.user }}",
        address="{{ params.address }}",
        target_state="absent",
        poke_interval=1,
        timeout=60,
        mode="poke",
        deferrable=False,
    )
    create_push = CanvasCreateCommunicationChannelOperator(
        task_id="create_push", user_id="self", channel_type="push", token="{{ params.push_token }}"
    )
    delete_push = CanvasDeletePushTokenOperator(task_id="delete_push", push_token="{{ params.push_token }}")
    sync = CanvasSyncCommunicationChannelsOperator(task_id="sync", desired=desired_rows())

    listed >> create_email >> wait_poke >> create_sms >> wait_deferred >> delete_by_id
    delete_by_id >> delete_by_address >> gone >> create_push >> delete_push >> sync
