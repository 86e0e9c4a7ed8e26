"""CanvasSyncCommunicationChannelsOperator against the fake Canvas over real HTTP."""

from __future__ import annotations

import json

import pytest

from airflow_provider_canvas._compat import AirflowFailException
from airflow_provider_canvas.operators.communication_channels import CanvasSyncCommunicationChannelsOperator
from airflow_provider_canvas.testing import Fault


@pytest.fixture
def roster(canvas):
    """Five users with one e-mail each; returns (user ids, their current addresses)."""
    users = canvas.add_users(5, prefix="sync")
    for user in users:
        canvas.add_channel(user, "email", f"current{user}@example.edu")
    return users


def sync(desired, **kwargs):
    return CanvasSyncCommunicationChannelsOperator(task_id="sync", desired=desired, **kwargs)


def writes(canvas):
    return [r for r in canvas.requests if r.method in ("POST", "DELETE")]


def addresses(canvas, user):
    return sorted(str(c["address"]).lower() for c in canvas.channels(user) if c["type"] == "email")


def test_add_only_creates_the_missing_and_reruns_converge(canvas, roster, context):
    desired = {u: [f"Current{u}@Example.edu", f"new{u}@example.edu"] for u in roster}
    report = sync(desired, skip_confirmation=True).execute(context)
    assert (report["created"], report["unchanged"], report["deleted"], report["failed"]) == (5, 5, 0, 0)
    assert report["dry_run"] is False
    for user in roster:
        assert addresses(canvas, user) == sorted([f"current{user}@example.edu", f"new{user}@example.edu"])
    again = sync(desired, skip_confirmation=True).execute(context)
    assert (again["created"], again["unchanged"]) == (0, 10)


def test_duplicate_rows_never_double_create(canvas, roster, context):
    user = roster[0]
    rows = [
        {"user_id": user, "address": "twice@example.edu"},
        {"user_id": str(user), "address": "TWICE@example.edu"},
    ]
    report = sync(rows).execute(context)
    assert report["created"] == 1
    assert len([r for r in writes(canvas) if r.method == "POST"]) == 1


def test_mirror_deletes_what_is_not_listed(canvas, roster, context):
    desired = {u: f"current{u}@example.edu" for u in roster[1:]}
    desired[roster[0]] = "replacement@example.edu"
    report = sync(desired, mode="mirror", max_deletes=1).execute(context)
    assert (report["created"], report["deleted"], report["unchanged"]) == (1, 1, 4)
    assert addresses(canvas, roster[0]) == ["replacement@example.edu"]


def test_max_deletes_aborts_before_any_write(canvas, roster, context):
    desired = {roster[0]: "only@example.edu", roster[1]: "only@example.edu"}
    with pytest.raises(AirflowFailException, match="would delete 2 of 2 current channels"):
        sync(desired, mode="mirror").execute(context)  # default 10% of 2 channels: 0 allowed
    assert writes(canvas) == []
    with pytest.raises(AirflowFailException, match="more than max_deletes"):
        sync(desired, mode="mirror", max_deletes=1).execute(context)
    assert writes(canvas) == []


def test_empty_desired_in_mirror_mode_is_refused(canvas, context):
    canvas.clear_requests()
    with pytest.raises(AirflowFailException, match="refusing to delete every channel"):
        sync([], mode="mirror").execute(context)
    assert canvas.requests == []


def test_dry_run_plans_without_writing(canvas, roster, context, tmp_path):
    plan_path = tmp_path / "plans" / "plan.jsonl"
    desired = {u: f"new{u}@example.edu" for u in roster}
    report = sync(desired, mode="mirror", max_deletes=1.0, dry_run=True, plan_path=str(plan_path)).execute(
        context
    )
    assert report["dry_run"] is True
    assert (report["to_create"], report["to_delete"]) == (5, 5)
    assert writes(canvas) == []
    lines = [json.loads(line) for line in plan_path.read_text().splitlines()]
    assert lines[0]["kind"] == "summary"
    assert sorted(line["kind"] for line in lines[1:]) == ["create"] * 5 + ["delete"] * 5
    assert report["plan_path"] == str(plan_path)


def test_failures_are_collected_everything_else_applied_and_task_fails(canvas, roster, context):
    canvas.inject(
        Fault.status(400, body='{"errors":{"type":"Maximum number of communication channels reached"}}'),
        times=1,
        method="POST",
        path=f"/users/{roster[0]}/",
    )
    desired = {u: f"new{u}@example.edu" for u in roster}
    desired["sis_user_id:nobody-home"] = "lost@example.edu"
    with pytest.raises(AirflowFailException) as info:
        sync(desired).execute(context)
    report = context["ti"].pushed["return_value"]
    assert (report["created"], report["failed"]) == (4, 2)
    failures = {(f["user_id"], f["action"]): f for f in report["failures"]}
    assert (
        failures[(str(roster[0]), "create")]["message"] == "Maximum number of communication channels reached"
    )
    assert failures[(str(roster[0]), "create")]["address"] == f"new{roster[0]}@example.edu"
    assert failures[("sis_user_id:nobody-home", "list")]["status_code"] == 404
    assert "2 item(s) not done" in str(info.value)
    assert "new" not in str(info.value)  # addresses are personal data: in the XCom report, not the log
    # Re-running after fixing the cause finishes the job without duplicates.
    del desired["sis_user_id:nobody-home"]
    again = sync(desired).execute(context)
    assert (again["created"], again["unchanged"], again["failed"]) == (1, 4, 0)


def test_csv_with_bom_jsonl_and_object_storage_urls(canvas, roster, context, tmp_path):
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text("\ufeffuser_id,address\n" + "".join(f"{u},csv{u}@example.edu\n" for u in roster[:2]))
    jsonl = tmp_path / "contacts.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"user_id": u, "address": f"jsonl{u}@example.edu"}) + "\n" for u in roster[2:])
    )
    assert sync(str(csv_file)).execute(context)["created"] == 2
    assert sync(f"file://{jsonl}").execute(context)["created"] == 3
    assert addresses(canvas, roster[0]) == sorted(
        [f"csv{roster[0]}@example.edu", f"current{roster[0]}@example.edu"]
    )


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("id,email\n1,a@b.edu\n", ".csv", "missing: user_id, address"),
        ("user_id,address\n1,not-an-email\n2,b@c.edu\n3,\n", ".csv", "2 bad row(s)"),
        ("user_id,address\n1/../2,a@b.edu\n", ".csv", "row 2: user_id"),
        ('{"user_id": 1}\n', ".jsonl", "needs keys user_id and address"),
        ("{not json\n", ".jsonl", "line 1 is not JSON"),
        ("user_id,address\n", ".txt", "use a .csv"),
    ],
)
def test_bad_desired_files_fail_before_any_request(canvas, context, tmp_path, content, suffix, message):
    path = tmp_path / f"desired{suffix}"
    path.write_text(content)
    canvas.clear_requests()
    with pytest.raises(ValueError, match="desired") as info:
        sync(str(path)).execute(context)
    assert message in str(info.value)
    assert canvas.requests == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "replace"}, "mode must be"),
        ({"channel_type": "push"}, "push channels have no address"),
        ({"max_deletes": 1.5}, "max_deletes"),
        ({"max_deletes": -1}, "max_deletes"),
        ({"max_deletes": "10%"}, "max_deletes"),
    ],
)
def test_construction_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sync({1: "a@b.edu"}, **kwargs)


def test_sync_survives_throttling_and_5xx(canvas, context):
    users = canvas.add_users(60, prefix="chaos")
    canvas.inject_random(rate=0.05, faults=[Fault.throttle(), Fault.status(502)], seed=3)
    report = sync({u: f"c{u}@example.edu" for u in users}, max_concurrency=8).execute(context)
    assert (report["created"], report["failed"]) == (60, 0)
    for user in users:
        assert addresses(canvas, user) == [f"c{user}@example.edu"]
