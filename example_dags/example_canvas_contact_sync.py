"""Nightly contact sync: make Canvas match a CSV of e-mail contacts, for tens of thousands of users.

Reads ``data/contacts.csv`` (columns ``user_id,address``, user ids in Canvas's ``sis_user_id:...`` form),
lists every user's channels concurrently under Canvas's throttle, creates what is missing and reports
what was created and what already existed. Re-runs are safe and converge. ``mode="mirror"`` would also
retire e-mail channels the file no longer lists, guarded by ``max_deletes``.

For a handful of users, one mapped task per user also works: see example_canvas_contact_sync_mapped.py.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_canvas.operators.communication_channels import CanvasSyncCommunicationChannelsOperator

CONTACTS_CSV = Path(__file__).parent / "data" / "contacts.csv"

with DAG(
    dag_id="canvas_contact_sync",
    description="Make every user's Canvas e-mail channels match contacts.csv (bulk, throttle-aware).",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["canvas", "example"],
):
    # [START howto_operator_canvas_sync_channels]
    sync_contacts = CanvasSyncCommunicationChannelsOperator(
        task_id="sync_contacts",
        desired=str(CONTACTS_CSV),  # or an s3://... URL, or a list of {"user_id", "address"} rows from XCom
        channel_type="email",
        mode="add_only",  # "mirror" also retires e-mail channels the file does not list
        skip_confirmation=True,
        max_deletes=0.05,  # mirror mode: abort if more than 5% of current channels would go
    )
    # [END howto_operator_canvas_sync_channels]

    @task
    def report(result: dict) -> dict[str, int]:
        summary = {"created": result["created"], "existing": result["unchanged"], "failed": result["failed"]}
        print(f"Contact sync: {summary['created']} created, {summary['existing']} already existed.")
        return summary

    report(sync_contacts.output)
