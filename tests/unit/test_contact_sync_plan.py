"""The contact sync's pure rules: plan = f(desired, current channels, policy), order, guards, options."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from airflow_provider_canvas.contact_sync.desired import Wanted
from airflow_provider_canvas.contact_sync.options import Limit, SyncOptions, parse_limit, parse_scope
from airflow_provider_canvas.contact_sync.plan import (
    LiveChannel,
    Planner,
    UserPlan,
    delete_guard,
    settle_deletes,
)
from tests.conftest import REPO_ROOT

MIRROR = SyncOptions.parse(mode="mirror", manage=["uni.edu"])


def channel(cid, address, state="active", *, user=7, kind="email", position=None):
    return {
        "id": cid,
        "address": address,
        "type": kind,
        "workflow_state": state,
        "user_id": user,
        "position": position if position is not None else cid,
    }


def wanted(*addresses, line=2):
    return {a.lower(): Wanted(a, line) for a in addresses}


def plan_of(options, *listings):
    planner = Planner(options)
    for ref, want, channels in listings:
        planner.add(ref, want, channels)
    return planner.finish()


def test_the_pure_modules_import_no_airflow():
    code = (
        "import sys\n"
        "import airflow_provider_canvas.contact_sync.plan, airflow_provider_canvas.contact_sync.options\n"
        "import airflow_provider_canvas.contact_sync.desired, airflow_provider_canvas.contact_sync.report\n"
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.replace("'", '"')) == []


def test_mirror_plans_creates_keeps_deletes_and_leaves_other_domains_alone():
    plan = plan_of(
        MIRROR,
        (
            "sis_user_id:S7",
            wanted("New@Uni.edu", "KEEP@uni.edu"),
            [
                channel(1, "keep@uni.edu"),
                channel(2, "old@mail.uni.edu"),  # a subdomain is in scope
                channel(3, "me@gmail.example.com"),
                channel(4, "+15551234567", kind="sms"),  # another type is never looked at
                channel(5, "gone@uni.edu", "retired"),
            ],
        ),
    )
    (user,) = plan.users
    assert user.canvas_user_id == 7
    assert [w.address for w in user.create] == ["New@Uni.edu"]
    assert [c.address for c in user.keep] == ["keep@uni.edu"]
    assert [c.address for c in user.delete] == ["old@mail.uni.edu"]
    assert [c.address for c in user.out_of_scope] == ["me@gmail.example.com"]
    assert (plan.to_create, plan.to_delete, plan.unchanged, plan.out_of_scope, plan.managed) == (
        1,
        1,
        1,
        1,
        2,
    )


def test_add_only_never_deletes_and_counts_no_scope():
    plan = plan_of(SyncOptions(), ("7", wanted("new@uni.edu"), [channel(1, "old@uni.edu")]))
    assert (plan.to_create, plan.to_delete, plan.out_of_scope) == (1, 0, 0)


def test_two_references_to_one_person_are_diffed_together():
    # Diffing each reference alone would retire the address the other one keeps.
    channels = [channel(1, "a@uni.edu"), channel(2, "b@uni.edu")]
    plan = plan_of(
        MIRROR,
        ("7", wanted("a@uni.edu", line=2), channels),
        ("sis_user_id:S7", wanted("b@uni.edu", line=3), channels),
    )
    (user,) = plan.users
    assert user.refs == ["7", "sis_user_id:S7"]
    assert user.delete == []
    assert plan.unchanged == 2


def test_a_user_without_channels_gets_creates_under_its_reference():
    plan = plan_of(MIRROR, ("sis_user_id:NEW", wanted("x@uni.edu"), []))
    (user,) = plan.users
    assert (user.canvas_user_id, user.target, [w.address for w in user.create]) == (
        None,
        "sis_user_id:NEW",
        ["x@uni.edu"],
    )


def test_users_come_out_in_input_order():
    plan = plan_of(
        SyncOptions(),
        ("9", wanted("a@uni.edu", line=9), [channel(1, "z@uni.edu", user=9)]),
        ("3", wanted("b@uni.edu", line=3), [channel(2, "y@uni.edu", user=3)]),
    )
    assert [u.ref for u in plan.users] == ["3", "9"]


def _user(keep=(), delete=(), create=()):
    return UserPlan(
        ["7"],
        2,
        7,
        create=[Wanted(a, 2) for a in create],
        keep=[LiveChannel(i, a, s, i) for i, (a, s) in enumerate(keep, 1)],
        delete=[LiveChannel(10 + i, a, s, 10 + i) for i, (a, s) in enumerate(delete, 1)],
    )


def test_a_failed_create_holds_every_delete_of_that_user():
    user = _user(delete=[("old@uni.edu", "active"), ("older@uni.edu", "unconfirmed")], create=["new@uni.edu"])
    go, held = settle_deletes(user, {}, failed_creates=1)
    assert go == []
    assert [h.channel.address for h in held] == ["old@uni.edu", "older@uni.edu"]
    assert "could not be created" in held[0].reason


def test_the_last_active_channel_waits_for_an_active_replacement():
    user = _user(delete=[("old@uni.edu", "active"), ("stale@uni.edu", "unconfirmed")], create=["new@uni.edu"])
    go, held = settle_deletes(user, {"new@uni.edu": "unconfirmed"}, 0)
    assert [c.address for c in go] == ["stale@uni.edu"]  # unconfirmed ones reach nobody: retire freely
    assert [h.channel.address for h in held] == ["old@uni.edu"]
    assert "last active email channel" in held[0].reason
    go, held = settle_deletes(user, {"new@uni.edu": "active"}, 0)
    assert ([c.address for c in go], held) == (["old@uni.edu", "stale@uni.edu"], [])


def test_of_several_active_ones_only_the_first_by_position_is_held():
    user = _user(delete=[("b@uni.edu", "active"), ("a@uni.edu", "active")], create=["new@uni.edu"])
    go, held = settle_deletes(user, {"new@uni.edu": "unconfirmed"}, 0)
    assert [c.address for c in go] == ["a@uni.edu"]
    assert [h.channel.address for h in held] == ["b@uni.edu"]  # position 11, before a@ at 12


def test_a_kept_active_channel_is_a_replacement():
    user = _user(keep=[("keep@uni.edu", "active")], delete=[("old@uni.edu", "active")])
    assert settle_deletes(user, {}, 0) == (list(user.delete), [])
    user = _user(keep=[("keep@uni.edu", "unconfirmed")], delete=[("old@uni.edu", "active")])
    go, held = settle_deletes(user, {}, 0)
    assert (go, [h.channel.address for h in held]) == ([], ["old@uni.edu"])


@pytest.mark.parametrize(
    ("limit", "managed", "deletes", "blocked"),
    [
        (Limit(fraction=0.1), 5, 1, False),  # 0.5 rounds up to one on a small group
        (Limit(fraction=0.1), 5, 2, True),
        (Limit(fraction=0.1), 100, 10, False),
        (Limit(fraction=0.1), 100, 11, True),
        (Limit(fraction=0.0), 100, 1, True),  # 0 means none, never "at least one"
        (Limit(count=0), 100, 0, False),
        (Limit(count=3), 4, 3, False),
        (Limit(count=3), 4, 4, True),
    ],
)
def test_delete_guard(limit, managed, deletes, blocked):
    options = SyncOptions.parse(mode="mirror", manage="all")
    user = UserPlan(
        ["7"], 2, 7, delete=[LiveChannel(i, f"x{i}@uni.edu", "active", i) for i in range(deletes)]
    )
    plan = plan_of(options)
    plan.users, plan.managed = [user], managed
    message = delete_guard(plan, limit)
    assert (message is not None) == blocked
    if blocked:
        assert f"retires {deletes} of {managed}" in message and "max_deletes" in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, Limit(count=5)),
        ("5", Limit(count=5)),
        (0, Limit(count=0)),
        (0.2, Limit(fraction=0.2)),
        ("0.2", Limit(fraction=0.2)),
        ("20%", Limit(fraction=0.2)),
        (1.0, Limit(fraction=1.0)),
    ],
)
def test_limits_accept_counts_fractions_and_text(value, expected):
    assert parse_limit(value, "max_deletes") == expected


@pytest.mark.parametrize("value", [-1, 1.5, "ten", "150%", True, None, float("nan"), "1e999"])
def test_bad_limits_name_the_argument(value):
    with pytest.raises(ValueError, match="max_failures must be a count"):
        parse_limit(value, "max_failures")


def test_scope_forms():
    domains = parse_scope(["Uni.EDU", "@college.example.org"])
    assert (
        domains.owns("a@uni.edu") and domains.owns("A@MAIL.UNI.EDU") and domains.owns("b@college.example.org")
    )
    assert not domains.owns("a@notuni.edu") and not domains.owns("a@uni.edu.evil.example")
    assert parse_scope("all").owns("anything@example.com")
    pattern = parse_scope(r"@(staff\.)?uni\.edu$")
    assert pattern.owns("x@UNI.edu") and not pattern.owns("x@gmail.com")
    assert parse_scope(re.compile(r"^s\d+@")).owns("s1@x.edu")
    assert parse_scope("['uni.edu']") == parse_scope(["uni.edu"])  # a list rendered from params
    assert parse_scope(None) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "empty list"),
        (["not a domain"], "not an e-mail domain"),
        ("(", "not a valid regular"),
        (5, "got int"),
    ],
)
def test_bad_scopes(value, message):
    with pytest.raises(ValueError, match=message):
        parse_scope(value)


def test_mirror_without_manage_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"mode='mirror' needs manage=.*manage=\['uni.edu'\]"):
        SyncOptions.parse(mode="mirror")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "replace"}, "mode must be one of 'add_only', 'mirror'"),
        ({"dry_run": "maybe"}, "dry_run must be true or false"),
        ({"on_missing_user": "ignore"}, "on_missing_user must be one of 'fail', 'skip'"),
        ({"on_unconfirmed": "warn"}, "on_unconfirmed must be one of 'fail', 'continue'"),
        ({"channel_type": "push"}, "push channels have no address"),
    ],
)
def test_bad_options_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SyncOptions.parse(**kwargs)


def test_text_from_dag_run_conf_is_accepted():
    options = SyncOptions.parse(
        mode=" Mirror ",
        manage="all",
        dry_run="TRUE",
        max_deletes="0.2",
        max_failures="3",
        on_missing_user="skip",
    )
    assert (options.mode, options.dry_run, options.max_deletes, options.max_failures) == (
        "mirror",
        True,
        Limit(fraction=0.2),
        Limit(count=3),
    )
