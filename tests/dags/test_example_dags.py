"""The example DAGs parse, and run to success in real Airflow against the bundled fake Canvas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.airflow_versions import is_airflow_supervisor_request
from tests.conftest import REPO_ROOT
from tests.dags.conftest import task_states

pytestmark = pytest.mark.airflow_db

EXAMPLE_FILES = sorted(p.name for p in (REPO_ROOT / "example_dags").glob("*.py"))


def _user_with_email(canvas, address: str) -> int:
    (channel,) = [c for c in canvas.all_channels() if c["address"] == address]
    return channel["user_id"]


def test_every_example_file_imports_cleanly(dagbag):
    assert dagbag.import_errors == {}
    loaded = {Path(dag.fileloc).name for dag in dagbag.dags.values()}
    assert set(EXAMPLE_FILES) <= loaded, "every example file defines at least one DAG"


def test_walkthrough_creates_waits_deletes(run_dag, canvas_connection):
    canvas = canvas_connection
    student = _user_with_email(canvas, "demo-student-1@example.edu")

    dag_run = run_dag("canvas_channels_walkthrough")

    assert dag_run.state == "success", task_states(dag_run)
    created = [
        c
        for c in canvas.channels(student, include_retired=True)
        if c["address"] == "demo.student.one@example.edu"
    ]
    assert len(created) == 1
    assert created[0]["workflow_state"] == "retired"
    assert [c["address"] for c in canvas.channels(student)] == ["demo-student-1@example.edu"]
    # The channel was created active (skip_confirmation), so the deferrable sensor's first look found it
    # and the task finished without a round trip through the triggerer (async httpx).
    agents = {r.headers.get("user-agent", "").split()[-1].split("/")[0] for r in canvas.requests}
    assert agents == {"python-requests"}


def test_walkthrough_with_params_for_another_user(run_dag, canvas_connection):
    canvas = canvas_connection
    student = _user_with_email(canvas, "demo-student-2@example.edu")
    dag_run = run_dag(
        "canvas_channels_walkthrough", user_id=str(student), address="Second.Address@Example.edu"
    )
    assert dag_run.state == "success", task_states(dag_run)
    (retired,) = [
        c for c in canvas.channels(student, include_retired=True) if c["workflow_state"] == "retired"
    ]
    assert retired["address"] == "Second.Address@Example.edu"


def test_contact_sync_creates_restores_and_skips_then_reruns_cleanly(run_dag, canvas_connection):
    canvas = canvas_connection
    students = [_user_with_email(canvas, f"demo-student-{n}@example.edu") for n in (1, 2, 3)]
    before = {s: len(canvas.channels(s, include_retired=True)) for s in students}

    first = run_dag("canvas_contact_sync_mapped")
    assert first.state == "success", task_states(first)
    assert {ti.map_index for ti in first.get_task_instances() if ti.task_id == "ensure_email"} == {0, 1, 2}
    report = next(ti for ti in first.get_task_instances() if ti.task_id == "report")
    assert report.xcom_pull(task_ids="report") == {"created": 2, "existing": 1}

    second = run_dag("canvas_contact_sync_mapped")
    assert second.state == "success", task_states(second)
    report = next(ti for ti in second.get_task_instances() if ti.task_id == "report")
    assert report.xcom_pull(task_ids="report") == {"created": 0, "existing": 3}

    s1, s2, s3 = students
    assert len(canvas.channels(s1, include_retired=True)) == before[s1]  # already had it: untouched
    assert "student.two.personal@example.edu" in [c["address"] for c in canvas.channels(s2)]
    assert len(canvas.channels(s2, include_retired=True)) == before[s2] + 1  # created once, not twice
    restored = [c for c in canvas.channels(s3) if c["address"] == "old.demo-student-3@example.edu"]
    assert restored[0]["workflow_state"] == "active"  # the retired channel came back (same row)
    assert len(canvas.channels(s3, include_retired=True)) == before[s3]


def test_every_operator_and_the_sensor_map(run_dag, canvas_connection):
    canvas = canvas_connection
    canvas.add_channel(canvas.admin_user_id, "push", "push")  # delete_push_token needs a push channel
    dag_run = run_dag("canvas_mapping_test")
    states = task_states(dag_run)
    assert dag_run.state == "success", states
    for task_id in ("list_mapped", "create_mapped", "wait_mapped", "delete_mapped", "gone_mapped"):
        assert {i for (t, i) in states if t == task_id} == {0, 1, 2}, task_id
    mapped = [c for c in canvas.all_channels(include_retired=True) if str(c["address"]).startswith("mapped-")]
    assert sorted(c["address"] for c in mapped) == [f"mapped-{n}@example.edu" for n in (1, 2, 3)]
    assert {c["workflow_state"] for c in mapped} == {"retired"}


def _rendered_fields(dag_run) -> dict[str, dict]:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields

    return {
        ti.task_id: RenderedTaskInstanceFields.get_templated_fields(ti) or {}
        for ti in dag_run.get_task_instances()
    }


def test_push_tokens_are_masked_everywhere(run_dag, canvas_connection, capfd):
    canvas = canvas_connection
    secret = "device-SECRET-token-8c1f2e"
    dag_run = run_dag("canvas_secrets_test", push_token=secret)
    assert dag_run.state == "success", task_states(dag_run)
    # The fake really received it (so the masking below is not vacuous) ...
    assert [e["token"] for e in canvas.push_endpoints(canvas.admin_user_id)] == [secret]
    assert canvas.push_endpoints(canvas.admin_user_id)[0]["workflow_state"] == "deleted"
    # ... but Airflow never shows it: rendered template fields, XCom, task output.
    rendered = _rendered_fields(dag_run)
    assert rendered["create_push"]["token"] != secret
    assert rendered["delete_push"]["push_token"] != secret
    assert secret not in repr(rendered)
    for ti in dag_run.get_task_instances():
        assert secret not in repr(ti.xcom_pull(task_ids=ti.task_id))
    captured = capfd.readouterr()
    output = "\n".join(
        line for line in (captured.out + captured.err).splitlines() if not is_airflow_supervisor_request(line)
    )
    assert secret not in output
    assert canvas.admin_token not in output


def test_extra_link_points_each_mapped_task_at_its_user(run_dag, canvas_connection):
    canvas = canvas_connection
    canvas.add_channel(canvas.admin_user_id, "push", "push")
    dag_run = run_dag("canvas_mapping_test")
    assert dag_run.state == "success", task_states(dag_run)
    expected = {
        i: f"{canvas.base_url}/users/{_user_with_email(canvas, f'demo-student-{i + 1}@example.edu')}"
        for i in range(3)
    }
    links = {
        ti.map_index: ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index, key="_link_CanvasUserLink")
        for ti in dag_run.get_task_instances()
        if ti.task_id == "list_mapped"
    }
    assert links == expected


def _report(dag_run) -> dict:
    ti = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "sync_contacts")
    return ti.xcom_pull(task_ids="sync_contacts")


def _asset_extras(name: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == name)
            .order_by(AssetEvent.id)
        )
        return [dict(event.extra or {}) for event in events]


def test_bulk_contact_sync_example(run_dag, canvas_connection, tmp_path):
    canvas = canvas_connection
    students = [_user_with_email(canvas, f"demo-student-{n}@example.edu") for n in (1, 2, 3)]
    s1, s2, s3 = students
    canvas.add_channel(s2, "email", "student2.personal@gmail.example.com")  # not the sync's to retire
    before_events = len(_asset_extras("canvas_institutional_emails"))

    first = run_dag("canvas_contact_sync")
    assert first.state == "success", task_states(first)
    report = next(ti for ti in first.get_task_instances() if ti.task_id == "report")
    assert report.xcom_pull(task_ids="report") == {
        "created": 1,
        "deleted": 1,
        "unchanged": 2,
        "held": 0,
        "missing_users": 1,
        "failed": 0,
    }
    full = _report(first)
    assert (full["out_of_scope"], full["created_active"], full["dry_run"]) == (1, 1, False)
    # The student moved from the old institutional address to the new one; the personal one stays.
    assert sorted(
        (c["address"], c["workflow_state"]) for c in canvas.channels(s2) if c["type"] == "email"
    ) == [
        ("student.two@example.edu", "active"),
        ("student2.personal@gmail.example.com", "active"),
    ]
    # The plan file says who changed from what to what.
    entries = [json.loads(line) for line in Path(full["plan_path"]).read_text().splitlines()]
    moved = next(e for e in entries if e.get("user") == "sis_user_id:demo-student-2")
    assert (moved["created"], moved["retired"]) == (
        ["student.two@example.edu"],
        ["demo-student-2@example.edu"],
    )
    assert next(e for e in entries if e.get("user") == "sis_user_id:demo-student-4")["missing_user"] is True
    # The asset event carries the counts, and no address.
    extras = _asset_extras("canvas_institutional_emails")[before_events:]
    assert len(extras) == 1
    assert (extras[0]["created"], extras[0]["deleted"], extras[0]["dry_run"]) == (1, 1, False)
    assert "@" not in json.dumps(extras[0])

    second = run_dag("canvas_contact_sync")
    assert second.state == "success", task_states(second)
    report = next(ti for ti in second.get_task_instances() if ti.task_id == "report")
    assert report.xcom_pull(task_ids="report") == {
        "created": 0,
        "deleted": 0,
        "unchanged": 3,
        "held": 0,
        "missing_users": 1,
        "failed": 0,
    }
    assert [c["address"] for c in canvas.channels(s1)] == ["demo-student-1@example.edu"]
    assert [c["address"] for c in canvas.channels(s3)] == ["demo-student-3@example.edu"]  # case-insensitive


def test_contact_sync_takes_its_guards_from_dag_run_conf(run_dag, canvas_connection):
    canvas = canvas_connection
    student = _user_with_email(canvas, "demo-student-2@example.edu")
    canvas.clear_requests()
    dry = run_dag("canvas_contact_sync", dry_run="true", max_deletes="0")  # text, as a UI form sends it
    assert dry.state == "success", task_states(dry)
    assert [r for r in canvas.requests if r.method in ("POST", "DELETE")] == []
    report = _report(dry)
    assert (report["dry_run"], report["to_create"], report["to_delete"]) == (True, 1, 1)
    assert report["blocked_by"] == ["max_deletes"]  # max_deletes 0: a real run would stop there
    assert "demo-student-2@example.edu" in [c["address"] for c in canvas.channels(student)]

    bad = run_dag("canvas_contact_sync", max_deletes="lots")
    assert bad.state == "failed"
    assert task_states(bad)[("sync_contacts", -1)] == "failed"
    assert [r for r in canvas.requests if r.method in ("POST", "DELETE")] == []
