"""Test-only DAG: secrets passed through templates (a push token) must never be shown in clear."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_canvas.operators.communication_channels import (
    CanvasCreateCommunicationChannelOperator,
    CanvasDeletePushTokenOperator,
)

with DAG(
    dag_id="canvas_secrets_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"push_token": "placeholder-token"},
):
    create_push = CanvasCreateCommunicationChannelOperator(
        task_id="create_push", user_id="self", channel_type="push", token="{{ params.push_token }}"
    )
    delete_push = CanvasDeletePushTokenOperator(task_id="delete_push", push_token="{{ params.push_token }}")
    create_push >> delete_push
