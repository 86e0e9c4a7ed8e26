"""Nightly contact sync, one mapped task per user: make sure each user has the e-mail in a CSV.

Reads ``data/contacts.csv`` (columns ``user_id,address``; Canvas's ``sis_user_id:...`` form), then
creates each missing e-mail channel with dynamic task mapping. Re-runs are safe: existing channels are
left as they are (``if_exists="skip"``). The last task reports what was created and what already
existed. Fine for hundreds of users; for tens of thousands use ``CanvasSyncCommunicationChannelsOperator``
(example_canvas_contact_sync.py), which plans in bulk under Canvas's throttle.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_canvas.operators.communication_channels import CanvasCreateCommunicationChannelOperator

CONTACTS_CSV = Path(__file__).parent / "data" / "contacts.csv"

with DAG(
    dag_id="canvas_contact_sync_mapped",
    description="Ensure every user in contacts.csv has that e-mail channel in Canvas (one task per user).",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["canvas", "example"],
):

    @task
    def read_contacts() -> list[dict[str, str]]:
        with CONTACTS_CSV.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if set(reader.fieldnames or ()) != {"user_id", "address"}:
                raise ValueError(f"{CONTACTS_CSV.name} must have exactly the columns user_id,address")
            rows = {(row["user_id"].strip(), row["address"].strip()): None for row in reader}
        return [{"user_id": user_id, "address": address} for user_id, address in rows]

    # [START howto_operator_canvas_create_channel_mapped]
    ensure_email = CanvasCreateCommunicationChannelOperator.partial(
        task_id="ensure_email",
        channel_type="email",
        skip_confirmation=True,
        if_exists="skip",
        max_active_tis_per_dag=8,  # stay well under Canvas's throttle
    ).expand_kwargs(read_contacts())
    # [END howto_operator_canvas_create_channel_mapped]

    # [START howto_operator_canvas_create_outcome]
    @task
    def report(channels: list[dict], ti=None) -> dict[str, int]:
        outcomes = list(ti.xcom_pull(task_ids="ensure_email", key="outcome"))
        summary = {"created": outcomes.count("created"), "existing": outcomes.count("existing")}
        print(f"Contact sync: {summary['created']} created, {summary['existing']} already existed.")
        return summary

    # [END howto_operator_canvas_create_outcome]
    report(ensure_email.output)
