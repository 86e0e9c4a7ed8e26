"""Nightly contact sync: make Canvas's institutional e-mail channels match the registrar's SIS export.

Reads ``data/sis_contacts.csv`` as the SIS exports it (columns ``sis_user_id``, ``name``, ``email``, ...; bare
SIS ids, which ``user_id_prefix`` turns into Canvas's ``sis_user_id:...`` form) where it lies, so no address
passes through XCom. ``mode="mirror"`` also retires institutional addresses the export no longer lists, but
only within ``manage`` (the institution's own domain): a student's personal address is never touched.
Each student gets their new address before the old one is retired. Students the SIS knows but Canvas does
not yet (admitted, not enrolled) are skipped and counted. The plan file lists every change by student.

Trigger it with ``{"dry_run": true}`` to review the plan without writing, or ``{"max_deletes": "10%"}`` to
approve a larger clean-up once. Downstream DAGs can be scheduled on the ``canvas_institutional_emails`` asset;
its events carry the counts.

For a handful of users, one mapped task per user also works: see example_canvas_contact_sync_mapped.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Asset, task

from airflow_provider_canvas.operators.contact_sync import CanvasSyncCommunicationChannelsOperator

SIS_EXPORT = Path(__file__).parent / "data" / "sis_contacts.csv"  # in production: "s3://registrar/..."
PLANS = Path(tempfile.gettempdir()) / "canvas-contact-sync"  # in production: durable storage, e.g. s3://
INSTITUTIONAL_EMAILS = Asset("canvas_institutional_emails")

with DAG(
    dag_id="canvas_contact_sync",
    description="Make students' institutional Canvas e-mails match the SIS export (bulk, throttle-aware).",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={"dry_run": False, "max_deletes": "5%"},
    tags=["canvas", "example"],
):
    # [START howto_operator_canvas_sync_channels]
    sync_contacts = CanvasSyncCommunicationChannelsOperator(
        task_id="sync_contacts",
        desired=str(SIS_EXPORT),
        user_id_column="sis_user_id",
        address_column="email",
        user_id_prefix="sis_user_id:",  # the export's ids are bare SIS ids (numbers included)
        mode="mirror",  # also retire institutional addresses the export no longer lists...
        manage=["example.edu"],  # ...but only these domains (and subdomains): personal ones are never touched
        skip_confirmation=True,  # admin token: new addresses are active at once (checked on the first create)
        max_deletes="{{ params.max_deletes }}",  # a truncated export cannot wipe the contacts
        max_failures=0.01,  # up to 1% of items may fail (reported) without failing the task
        on_missing_user="skip",  # admitted students not in Canvas yet: counted, not an error
        dry_run="{{ params.dry_run }}",
        plan_path=str(PLANS / "{{ ts_nodash }}.jsonl"),
        outlets=[INSTITUTIONAL_EMAILS],  # the asset event's extra carries the counts
    )
    # [END howto_operator_canvas_sync_channels]

    @task(show_return_value_in_logs=False)
    def report(result: dict) -> dict[str, int]:
        keys = ("created", "deleted", "unchanged", "held", "missing_users", "failed")
        summary = {key: result[key] for key in keys}
        print("Contact sync: " + ", ".join(f"{value} {key}" for key, value in summary.items()) + ".")
        return summary

    report(sync_contacts.output)
