"""CanvasSyncCommunicationChannelsOperator against the fake Canvas over real HTTP: the nightly-run guarantees."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from airflow_provider_canvas._compat import AirflowException, AirflowFailException
from airflow_provider_canvas.contact_sync.engine import FAILURE_STREAK
from airflow_provider_canvas.operators.contact_sync import (
    CanvasSyncCommunicationChannelsOperator,
    ContactSyncInputError,
)
from airflow_provider_canvas.testing import Fault


@pytest.fixture
def roster(canvas):
    """Five users with one active institutional e-mail each."""
    users = canvas.add_users(5, prefix="sync")
    for user in users:
        canvas.add_channel(user, "email", f"current{user}@uni.edu")
    return users


def sync(desired, **kwargs):
    return CanvasSyncCommunicationChannelsOperator(task_id="sync", desired=desired, **kwargs)


def run_failing(operator, context, exception=AirflowFailException):
    """Execute, expect the task to fail with exactly ``exception``; returns (report, message)."""
    with pytest.raises(AirflowException) as info:
        operator.execute(context)
    assert type(info.value) is exception, f"{type(info.value).__name__}: {info.value}"
    return context["ti"].pushed["return_value"], str(info.value)


def writes(canvas):
    return [r for r in canvas.requests if r.method in ("POST", "DELETE")]


def live(canvas, user):
    return sorted(
        (str(c["address"]).lower(), c["workflow_state"])
        for c in canvas.channels(user)
        if c["type"] == "email"
    )


def use_token(canvas, monkeypatch, token, **extra):
    monkeypatch.setenv("AIRFLOW_CONN_CANVAS_DEFAULT", canvas.connection_json(token, **extra))


def test_old_import_path_still_works():
    from airflow_provider_canvas.operators import communication_channels

    assert (
        communication_channels.CanvasSyncCommunicationChannelsOperator
        is CanvasSyncCommunicationChannelsOperator
    )


def test_add_only_creates_the_missing_and_reruns_converge(canvas, roster, context):
    desired = {u: [f"Current{u}@Uni.edu", f"new{u}@uni.edu"] for u in roster}
    report = sync(desired, skip_confirmation=True).execute(context)
    assert (report["created"], report["created_active"], report["unchanged"], report["deleted"]) == (
        5,
        5,
        5,
        0,
    )
    assert (report["failed"], report["dry_run"], report["blocked_by"], report["stopped"]) == (
        0,
        False,
        [],
        None,
    )
    for user in roster:
        assert live(canvas, user) == [(f"current{user}@uni.edu", "active"), (f"new{user}@uni.edu", "active")]
    again = sync(desired, skip_confirmation=True).execute(context)
    assert (again["created"], again["unchanged"]) == (0, 10)


def test_duplicate_rows_never_double_create(canvas, roster, context):
    user = roster[0]
    rows = [{"user_id": user, "address": "twice@uni.edu"}, {"user_id": str(user), "address": "TWICE@uni.edu"}]
    assert sync(rows).execute(context)["created"] == 1
    assert len([r for r in writes(canvas) if r.method == "POST"]) == 1


def test_each_user_creates_before_retiring_and_users_still_run_concurrently(canvas, context):
    canvas.latency = 0.02
    users = canvas.add_users(40, prefix="order")
    for user in users:
        canvas.add_channel(user, "email", f"old{user}@uni.edu")
    report = sync(
        {u: f"new{u}@uni.edu" for u in users},
        mode="mirror",
        manage=["uni.edu"],
        max_deletes=1.0,
        skip_confirmation=True,
    ).execute(context)
    assert (report["created"], report["deleted"], report["held"]) == (40, 40, 0)
    first_write = {}
    for index, record in enumerate(writes(canvas)):
        user = int(record.path.split("/")[4])
        first_write.setdefault(user, (index, record.method))
        if record.method == "DELETE":
            assert first_write[user][1] == "POST", f"user {user} was retired before the create finished"
    assert canvas.stats.max_in_flight > 4  # per-user order, not a serial run


def test_a_failed_create_keeps_the_old_address_and_reports_it_held(canvas, roster, context, tmp_path):
    victim = roster[0]
    canvas.inject(Fault.status(500), times=6, method="POST", path=f"/users/{victim}/")  # outlives 5 retries
    desired = {u: f"new{u}@uni.edu" for u in roster}
    plan_path = tmp_path / "plan.jsonl"
    report, message = run_failing(
        sync(
            desired,
            mode="mirror",
            manage=["uni.edu"],
            max_deletes=1.0,
            skip_confirmation=True,
            plan_path=str(plan_path),
        ),
        context,
        exception=AirflowException,  # a 500 may pass: Airflow's retry applies
    )
    assert live(canvas, victim) == [(f"current{victim}@uni.edu", "active")]  # still reachable
    assert not [r for r in writes(canvas) if r.method == "DELETE" and f"/users/{victim}/" in r.path]
    assert (report["created"], report["deleted"], report["held"], report["failed"]) == (4, 4, 1, 1)
    assert "1 item(s) failed, more than max_failures allows (0)" in message and "temporary" in message
    (entry,) = [
        json.loads(line) for line in plan_path.read_text().splitlines() if f'"user_id": {victim}' in line
    ]
    assert entry["held"] == [
        {
            "address": f"current{victim}@uni.edu",
            "reason": "a new address for this user could not be created, so none of their old ones is retired",
        }
    ]
    assert entry["failed"][0]["address"] == f"new{victim}@uni.edu"


def test_the_last_active_address_waits_until_its_replacement_is_confirmed(canvas, roster, context):
    user = roster[0]
    options = {"mode": "mirror", "manage": ["uni.edu"], "max_deletes": 1}
    first = sync({user: "fresh@uni.edu"}, **options).execute(context)  # skip_confirmation=False
    assert (first["created"], first["created_unconfirmed"], first["deleted"], first["held"]) == (1, 1, 0, 1)
    assert live(canvas, user) == [(f"current{user}@uni.edu", "active"), ("fresh@uni.edu", "unconfirmed")]
    again = sync({user: "fresh@uni.edu"}, **options).execute(context)  # not confirmed yet: still held
    assert (again["unchanged"], again["held"], again["deleted"]) == (1, 1, 0)
    (fresh,) = [c for c in canvas.channels(user) if c["address"] == "fresh@uni.edu"]
    canvas.confirm(fresh["id"])
    last = sync({user: "fresh@uni.edu"}, **options).execute(context)
    assert (last["held"], last["deleted"]) == (0, 1)
    assert live(canvas, user) == [("fresh@uni.edu", "active")]


def test_addresses_outside_manage_are_never_retired(canvas, roster, context):
    user = roster[0]
    canvas.add_channel(user, "email", "Someone@GMail.example.com")
    canvas.add_channel(user, "email", "old@staff.uni.edu")
    report = sync(
        {user: "new@uni.edu"}, mode="mirror", manage=["uni.edu"], max_deletes=2, skip_confirmation=True
    ).execute(context)
    assert (report["deleted"], report["out_of_scope"]) == (2, 1)
    assert live(canvas, user) == [("new@uni.edu", "active"), ("someone@gmail.example.com", "active")]
    by_pattern = sync(
        {user: "new@uni.edu"}, mode="mirror", manage=r"@gmail\.example\.com$", skip_confirmation=True
    ).execute(context)
    assert (by_pattern["deleted"], by_pattern["out_of_scope"]) == (1, 0)


def test_mirror_without_manage_is_a_dag_import_error():
    with pytest.raises(ValueError, match="mode='mirror' needs manage="):
        sync({1: "a@uni.edu"}, mode="mirror")


def test_a_revoked_token_stops_at_once_with_one_clear_message(canvas, context, monkeypatch):
    users = canvas.add_users(300, prefix="revoked")
    use_token(canvas, monkeypatch, "revoked-token-0123456789")
    canvas.clear_requests()
    report, message = run_failing(sync({u: f"x{u}@uni.edu" for u in users}, max_concurrency=4), context)
    assert len(canvas.requests) <= 4 + 1
    assert message.count("Invalid access token") == 1
    assert message.startswith(
        f"Contact sync stopped after {report['requests']} request(s): Canvas refused the access token"
    )
    assert report["requests"] == len(canvas.requests)
    assert report["not_attempted"] >= 300 - 5 and report["failed"] <= 5
    assert "Re-running is safe" not in message and "Fix the cause" in message


def test_canvas_unreachable_mid_run_stops_and_lets_airflow_retry(canvas, roster, context, monkeypatch):
    use_token(canvas, monkeypatch, canvas.admin_token, max_retries=1)
    more = canvas.add_users(60, prefix="outage")
    canvas.inject(Fault.reset(), times=10**6, method="POST")
    report, message = run_failing(
        sync({u: f"x{u}@uni.edu" for u in [*roster, *more]}, max_concurrency=4), context, AirflowException
    )
    posts = [r for r in canvas.requests if r.method == "POST"]
    assert len(posts) <= 2 * (4 + 1)  # each in-flight create tried twice (max_retries=1), then no more
    assert "Canvas could not be reached" in message and "Airflow's retry" in message
    assert report["not_attempted"] >= 65 - 5


def test_canvas_failing_every_item_stops_after_a_streak(canvas, context, monkeypatch):
    use_token(canvas, monkeypatch, canvas.admin_token, max_retries=0)
    users = canvas.add_users(60, prefix="streak")
    canvas.inject(Fault.status(503), times=10**6, method="POST")
    report, message = run_failing(
        sync({u: f"x{u}@uni.edu" for u in users}, max_concurrency=2), context, AirflowException
    )
    assert f"Canvas failed {FAILURE_STREAK} items in a row" in message
    assert FAILURE_STREAK <= report["failed"] < FAILURE_STREAK + 3
    assert report["not_attempted"] == 60 - report["failed"]


def test_max_failures_is_the_tolerance_for_item_failures(canvas, roster, context):
    refused = Fault.status(400, body='{"errors":{"type":"Maximum number of communication channels reached"}}')
    canvas.inject(refused, times=1, method="POST", path=f"/users/{roster[0]}/")
    report = sync({u: f"new{u}@uni.edu" for u in roster}, max_failures=1).execute(context)
    assert (report["created"], report["failed"]) == (4, 1)
    assert report["failures"][0]["message"] == "Maximum number of communication channels reached"
    canvas.inject(refused, times=2, method="POST")
    report, message = run_failing(sync({u: f"other{u}@uni.edu" for u in roster}, max_failures="10%"), context)
    assert (
        report["failed"] == 2 and "more than max_failures allows (1)" in message
    )  # 10% of 5 listings + 5 creates
    assert "Fix their cause" in message  # a 400 does not pass by itself: no Airflow retry


def test_a_token_that_may_not_skip_confirmation_makes_exactly_one_create(canvas, context, monkeypatch):
    clerk = canvas.add_user("Registrar Clerk")
    token = canvas.add_token(clerk, account_admin=True, manage_students=False)
    use_token(canvas, monkeypatch, token)
    users = canvas.add_users(20, prefix="confirm")
    canvas.clear_requests()
    report, message = run_failing(sync({u: f"x{u}@uni.edu" for u in users}, skip_confirmation=True), context)
    assert len([r for r in canvas.requests if r.method == "POST"]) == 1
    assert (report["created"], report["created_unconfirmed"], report["created_active"]) == (1, 1, 0)
    assert report["not_attempted"] == 19
    assert "'unconfirmed' although skip_confirmation=True" in message
    report = sync(
        {u: f"x{u}@uni.edu" for u in users}, skip_confirmation=True, on_unconfirmed="continue"
    ).execute(context)
    assert (report["created"], report["created_unconfirmed"], report["unchanged"]) == (19, 19, 1)


def test_dry_run_over_the_guard_writes_the_plan_and_the_report(canvas, roster, context, tmp_path):
    plan_path = tmp_path / "review" / "plan.jsonl"
    desired = {u: f"new{u}@uni.edu" for u in roster}
    options = {
        "mode": "mirror",
        "manage": ["uni.edu"],
        "max_deletes": 1,
        "plan_path": str(plan_path),
        "skip_confirmation": True,
    }
    report = sync(desired, dry_run="true", **options).execute(context)  # text, as from dag_run.conf
    assert writes(canvas) == []
    assert (report["dry_run"], report["to_create"], report["to_delete"], report["blocked_by"]) == (
        True,
        5,
        5,
        ["max_deletes"],
    )
    lines = [json.loads(line) for line in plan_path.read_text().splitlines()]
    assert lines[0]["kind"] == "summary" and lines[0]["blocked_by"] == ["max_deletes"]
    assert {(line["user_id"], line["to_create"][0], line["to_retire"][0]) for line in lines[1:]} == {
        (u, f"new{u}@uni.edu", f"current{u}@uni.edu") for u in roster
    }
    # The real run stops at the same guard, before any write, and still leaves the plan to review.
    plan_path.unlink()
    report, message = run_failing(sync(desired, **options), context)
    assert writes(canvas) == [] and report["blocked_by"] == ["max_deletes"]
    assert "blocked before any write: the plan retires 5 of 5 managed channels" in message
    assert len(plan_path.read_text().splitlines()) == 6


def test_the_delete_guard_allows_one_delete_on_a_small_group(canvas, roster, context):
    desired = {u: f"current{u}@uni.edu" for u in roster[1:]}
    desired[roster[0]] = "new@uni.edu"  # 1 of 5 = 20% > 10%, but 10% of 5 rounds up to one
    report = sync(desired, mode="mirror", manage="all", skip_confirmation=True).execute(context)
    assert (report["created"], report["deleted"]) == (1, 1)
    with pytest.raises(ValueError, match="max_deletes"):
        sync(desired, mode="mirror", manage="all", max_deletes="lots")


def test_a_delete_retried_after_a_dropped_connection_counts_as_deleted(canvas, roster, context):
    canvas.inject(Fault.reset(after_processing=True), times=1, method="DELETE")  # Canvas acted, answer lost
    desired = {u: f"current{u}@uni.edu" for u in roster[1:]}
    desired[roster[0]] = "new@uni.edu"
    report = sync(desired, mode="mirror", manage="all", skip_confirmation=True).execute(context)
    assert (report["deleted"], report["unchanged"], report["failed"]) == (1, 4, 0)


def test_a_create_retried_after_a_dropped_connection_counts_as_created(canvas, roster, context):
    canvas.inject(Fault.reset(after_processing=True), times=1, method="POST")
    report = sync({roster[0]: "new@uni.edu"}, skip_confirmation=True).execute(context)
    assert (report["created"], report["created_active"], report["unchanged"]) == (1, 1, 0)


def test_an_sis_export_with_a_prefix_is_read_where_it_lies(canvas, context, tmp_path):
    for n in (1, 2):
        canvas.add_user(f"SIS {n}", sis_user_id=f"{n:05d}")  # numeric SIS ids
    export = tmp_path / "sis_export.csv"
    export.write_text('sis_user_id,name,email\n00001,Ann,ann@uni.edu\n00002,"Lee, Bo",bo@uni.edu\n')
    report = sync(
        str(export), user_id_column="sis_user_id", address_column="email", user_id_prefix="sis_user_id:"
    ).execute(context)
    assert report["created"] == 2
    assert {r.path.split("/")[4] for r in writes(canvas)} == {"sis_user_id:00001", "sis_user_id:00002"}
    export.write_text("sis_user_id,email\n00001,ann@uni.edu\n00002,bo at uni\n")
    canvas.clear_requests()
    with pytest.raises(
        ContactSyncInputError, match=r"line 3: email is not a plausible e-mail address"
    ) as info:
        sync(
            str(export), user_id_column="sis_user_id", address_column="email", user_id_prefix="sis_user_id:"
        ).execute(context)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AirflowFailException)
    assert canvas.requests == []


def test_users_not_in_canvas_are_skipped_or_fail(canvas, roster, context, tmp_path):
    desired = {u: f"new{u}@uni.edu" for u in roster}
    desired["sis_user_id:not-yet-enrolled"] = "newbie@uni.edu"
    plan_path = tmp_path / "plan.jsonl"
    report = sync(desired, on_missing_user="skip", plan_path=str(plan_path)).execute(context)
    assert (report["created"], report["missing_users"], report["failed"]) == (5, 1, 0)
    (missing,) = [json.loads(line) for line in plan_path.read_text().splitlines() if '"missing_user"' in line]
    assert (missing["user"], missing["skipped"]) == ("sis_user_id:not-yet-enrolled", ["newbie@uni.edu"])
    report, message = run_failing(sync(desired), context)
    assert "list for user sis_user_id:not-yet-enrolled: The specified resource does not exist" in message
    assert (report["missing_users"], report["failed"], report["unchanged"]) == (1, 1, 5)
    assert report["failures"][0] == {
        "user": "sis_user_id:not-yet-enrolled",
        "user_id": None,
        "action": "list",
        "error": "CanvasNotFoundError",
        "status_code": 404,
        "message": "The specified resource does not exist.",
    }


def test_the_plan_file_reads_who_changed_from_what_to_what(canvas, roster, context, tmp_path):
    plan_path = tmp_path / "plan.jsonl"
    user = roster[0]
    canvas.add_channel(user, "email", "me@gmail.example.com")
    sync(
        {f"sis_user_id:sync{1:06d}": "Renamed@uni.edu"},
        mode="mirror",
        manage=["uni.edu"],
        skip_confirmation=True,
        plan_path=str(plan_path),
    ).execute(context)
    summary, entry = (json.loads(line) for line in plan_path.read_text().splitlines())
    assert summary["created"] == 1 and summary["kind"] == "summary"
    assert entry == {
        "kind": "user",
        "user": "sis_user_id:sync000001",
        "line": 1,
        "user_id": user,
        "created": ["Renamed@uni.edu"],
        "retired": [f"current{user}@uni.edu"],
        "out_of_scope": ["me@gmail.example.com"],
    }


def test_the_xcom_report_stays_small_for_5000_users_with_failures(canvas, context):
    desired = {f"sis_user_id:gone{i:05d}": f"s{i}@uni.edu" for i in range(5000)}
    report, _ = run_failing(sync(desired, max_concurrency=16), context)
    assert (report["missing_users"], report["failed"], len(report["failures"])) == (5000, 5000, 100)
    assert report["failures_not_shown"] == 4900
    text = json.dumps(report)
    assert len(text) < 40_000, len(text)
    assert "@" not in text  # no addresses


def test_sync_survives_throttling_and_5xx(canvas, context):
    users = canvas.add_users(60, prefix="chaos")
    canvas.inject_random(rate=0.05, faults=[Fault.throttle(), Fault.status(502)], seed=3)
    report = sync({u: f"c{u}@uni.edu" for u in users}, max_concurrency=8).execute(context)
    assert (report["created"], report["failed"]) == (60, 0)
    for user in users:
        assert live(canvas, user) == [(f"c{user}@uni.edu", "unconfirmed")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "replace"}, "mode must be one of"),
        ({"channel_type": "push"}, "push channels have no address"),
        ({"max_deletes": 1.5}, "max_deletes must be a count"),
        ({"max_deletes": -1}, "max_deletes must be a count"),
        ({"max_failures": "some"}, "max_failures must be a count"),
        ({"manage": []}, "manage is an empty list"),
        ({"on_missing_user": "ignore"}, "on_missing_user must be one of"),
        ({"user_id_prefix": "sis:"}, "user_id_prefix must be one of"),
        ({"dry_run": "perhaps"}, "dry_run must be true or false"),
    ],
)
def test_construction_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sync({1: "a@uni.edu"}, **kwargs)


def test_templated_arguments_are_checked_when_rendered(canvas, roster, context):
    operator = sync({roster[0]: "a@uni.edu"}, mode="{{ params.mode }}", max_deletes="{{ params.max }}")
    operator.mode, operator.max_deletes = "mirror", "0.5"  # what rendering hands over
    with pytest.raises(ContactSyncInputError, match="mode='mirror' needs manage="):
        operator.execute(context)
    assert writes(canvas) == []


def test_progress_lines_carry_no_addresses(canvas, roster, context, captured_logs):
    counts = defaultdict(int)
    sync({u: f"secret{u}@uni.edu" for u in roster}, skip_confirmation=True).execute(context)
    for record in captured_logs:
        counts[record.level] += 1
        if record.level in ("info", "warning", "error"):
            assert "secret" not in record.message, record.message
    assert counts["info"] > 0


def test_an_unforeseen_exception_is_one_item_failure_not_a_lost_report(canvas, roster, context, monkeypatch):
    from airflow_provider_canvas.hooks.canvas import CanvasHook

    real = CanvasHook.create_communication_channel

    def flaky(self, user_id, **kwargs):
        if str(user_id) == str(roster[0]):
            raise RecursionError("maximum recursion depth exceeded: secret@uni.edu")
        return real(self, user_id, **kwargs)

    monkeypatch.setattr(CanvasHook, "create_communication_channel", flaky)
    report, message = run_failing(sync({u: f"new{u}@uni.edu" for u in roster}), context)
    assert (report["created"], report["failed"]) == (4, 1)
    assert (
        report["failures"][0]["message"] == "Unexpected RecursionError (a bug, or an answer nobody foresaw)."
    )
    assert "secret" not in message and "secret" not in json.dumps(report)
