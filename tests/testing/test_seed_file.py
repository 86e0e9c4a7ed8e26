"""Seed files: what they may say, and a clear problem (line or path, field, fix) for everything else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_canvas.testing import FakeCanvas
from airflow_provider_canvas.testing.seed import SeedFileError, apply_seed, load_seed_file


def _write(tmp_path: Path, name: str, content: str | dict) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(SeedFileError) as raised:
        load_seed_file(path)
    assert str(raised.value).startswith(f"seed file {path}: {len(raised.value.problems)} problem(s):")
    return raised.value.problems


def _seeded(users) -> list[tuple]:
    return [
        (
            u.sis_user_id,
            u.login_id,
            u.name,
            u.integration_id,
            [(c.type, c.address, c.workflow_state) for c in u.channels],
        )
        for u in users
    ]


def test_json_defaults_type_email_state_active_and_a_name(tmp_path: Path):
    path = _write(
        tmp_path, "s.json", {"users": [{"login_id": "ada", "channels": [{"address": " Ada@Example.edu "}]}]}
    )
    assert _seeded(load_seed_file(path)) == [
        (None, "ada", "User ada", None, [("email", "Ada@Example.edu", "active")])
    ]


def test_csv_rows_of_one_user_merge_and_a_utf8_bom_is_fine(tmp_path: Path):
    path = tmp_path / "s.csv"
    path.write_bytes(
        "\ufeffsis_user_id,login_id,name,channel_type,address,workflow_state\n"
        "S1,,,email,one@example.edu,\n"
        ",ONE,,sms,+1 555 555 0101,unconfirmed\n"  # found by login, which the next row gives S1
        "S1,one,Ada One,,,\n"
        "\n"
        "S2,two,,,,\n".encode()
    )
    # Row 3 names its user only by a login that no row had given S1 yet: a user of its own, and then
    # row 4 gives S1 the same login (case-insensitively), which Canvas refuses.
    problems = _problems(path)
    assert problems == ["line 3, login_id: 'ONE' is already used by the user at line 2"]

    path.write_bytes(
        "\ufeffsis_user_id,login_id,name,channel_type,address,workflow_state\n"
        "S1,,,email,one@example.edu,\n"
        "S1,one,Ada One,,,\n"
        ",ONE,,sms,+1 555 555 0101,unconfirmed\n"
        "\n"
        "S2,two,,,,\n".encode()
    )
    assert _seeded(load_seed_file(path)) == [
        (
            "S1",
            "one",
            "Ada One",
            None,
            [("email", "one@example.edu", "active"), ("sms", "+1 555 555 0101", "unconfirmed")],
        ),
        ("S2", "two", "User S2", None, []),
    ]


def test_csv_rows_that_disagree_about_a_user_are_named(tmp_path: Path):
    path = _write(tmp_path, "s.csv", "sis_user_id,name,address\nS1,Ada,a@example.edu\nS1,Bob,b@example.edu\n")
    assert _problems(path) == ["line 3, name: 'Bob' differs from 'Ada' on line 2 (same user)"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            "",
            "line 1: the header is missing; start with sis_user_id,login_id,name,integration_id,channel_type,address,workflow_state",
        ),
        (
            "sis_user_id,e-mail\n",
            "line 1, e-mail: unknown column; the columns are sis_user_id,login_id,name,integration_id,channel_type,address,workflow_state",
        ),
        ("name,address\n", "line 1: a sis_user_id or login_id column is needed to say whose row it is"),
        ("sis_user_id,sis_user_id\n", "line 1, sis_user_id: the column appears more than once"),
        ("sis_user_id,address\nS1,a@example.edu,extra\n", "line 2: 3 fields; the header has 2"),
        (
            "sis_user_id,address\n,a@example.edu\n",
            "line 2, sis_user_id: give sis_user_id or login_id (or both), so a DAG can name the user",
        ),
        (
            "sis_user_id,channel_type,address\nS1,push,x\n",
            "line 2, channel_type: 'push' is not one of email, sms, slack; push channels need a device: create them through the API",
        ),
        ("sis_user_id,channel_type,address\nS1,sms,\n", "line 2, address: is required"),
        (
            "sis_user_id,address\nS1,a@b@c\n",
            "line 2, address: 'a@b@c' is not an e-mail address Canvas accepts",
        ),
        (
            "sis_user_id,address,workflow_state\nS1,a@example.edu,deleted\n",
            "line 2, workflow_state: 'deleted' is not one of active, unconfirmed, retired",
        ),
        (f"sis_user_id\n{'x' * 300}\n", "line 2, sis_user_id: is 300 characters long; the limit is 255"),
        ('sis_user_id,name\nS1,"A\tB"\n', "line 2, name: contains control characters"),
    ],
)
def test_csv_problems(tmp_path: Path, content: str, problem: str):
    assert _problems(_write(tmp_path, "seed.csv", content)) == [problem]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            '{"users": [\n  {"sis_user_id": "S1",}\n]}',
            "line 2 column 24: not valid JSON: Expecting property name enclosed in double quotes",
        ),
        (
            [{"sis_user_id": "S1"}],
            'the top level must be an object with a "users" list: {"users": [{...}, ...]}',
        ),
        ({"users": [], "settings": {}}, "unknown top-level key(s) settings; only 'users' is read"),
        ({"users": ["S1"]}, "users[0]: must be an object with sis_user_id, login_id, name, channels"),
        (
            {"users": [{"sis_id": "S1", "login_id": "a"}]},
            "users[0], sis_id: is not a user field; use sis_user_id, login_id, name, integration_id, channels",
        ),
        ({"users": [{"sis_user_id": 7}]}, "users[0], sis_user_id: must be a string; got 7 (quote it)"),
        (
            {"users": [{"sis_user_id": "S1", "channels": {"address": "a@example.edu"}}]},
            "users[0], channels: must be a list of objects with type, address, workflow_state",
        ),
        (
            {"users": [{"sis_user_id": "S1", "channels": [{"address": "a@example.edu", "state": "active"}]}]},
            "users[0].channels[0], state: is not a channel field; use type, address, workflow_state",
        ),
        (
            {"users": [{"sis_user_id": "S1", "channels": [{"type": "sms"}]}]},
            "users[0].channels[0], address: is required",
        ),
    ],
)
def test_json_problems(tmp_path: Path, content: object, problem: str):
    text = content if isinstance(content, str) else json.dumps(content)
    assert _problems(_write(tmp_path, "seed.json", text)) == [problem]


def test_what_canvas_refuses_twice_is_refused_and_retired_duplicates_are_not(tmp_path: Path):
    path = _write(
        tmp_path,
        "seed.json",
        {
            "users": [
                {
                    "sis_user_id": "S1",
                    "login_id": "Ada",
                    "integration_id": "I1",
                    "channels": [
                        {"address": "a@example.edu"},
                        {"address": "A@EXAMPLE.EDU", "workflow_state": "unconfirmed"},
                        {"address": "a@example.edu", "workflow_state": "retired"},
                        {"address": "a@example.edu", "workflow_state": "retired"},
                        {"type": "sms", "address": "a@example.edu"},
                    ],
                },
                {"sis_user_id": "S1", "login_id": "ada", "integration_id": "I1"},
            ]
        },
    )
    assert _problems(path) == [
        (
            "users[0].channels[1]: sis_user_id 'S1' already has the email channel 'A@EXAMPLE.EDU' "
            "(users[0].channels[0]); Canvas allows one unconfirmed or active channel per type and address "
            "(retired ones may repeat)"
        ),
        "users[1], sis_user_id: 'S1' is already used by the user at users[0]",
        "users[1], login_id: 'ada' is already used by the user at users[0]",
        "users[1], integration_id: 'I1' is already used by the user at users[0]",
    ]


def test_many_problems_are_all_counted_and_the_first_twenty_shown(tmp_path: Path):
    rows = "".join(f"S{n},{n}@example.edu,bogus\n" for n in range(30))
    path = _write(tmp_path, "seed.csv", "sis_user_id,address,workflow_state\n" + rows)
    with pytest.raises(SeedFileError) as raised:
        load_seed_file(path)
    assert len(raised.value.problems) == 30
    assert str(raised.value).count("\n  line ") == 20
    assert str(raised.value).endswith("\n  ... and 10 more")


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("seed.yaml", "users: []", "the file name must end in .csv or .json (got '.yaml')"),
        ("missing.json", None, "cannot be read: No such file or directory"),
        (
            "latin1.csv",
            b"sis_user_id,name\nS1,Jos\xe9\n",
            "is not UTF-8 text (at byte offset 23); save it as UTF-8",
        ),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: str | bytes | None, problem: str):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    assert _problems(path) == [problem]


def test_apply_seeds_users_in_order_with_consecutive_ids_and_channels_as_given(tmp_path: Path):
    path = _write(
        tmp_path,
        "seed.json",
        {
            "users": [
                {
                    "name": "Ada",
                    "sis_user_id": "S1",
                    "channels": [
                        {"type": "sms", "address": "+15555550100", "workflow_state": "unconfirmed"},
                        {"address": "old@example.edu", "workflow_state": "retired"},
                    ],
                },
                {"login_id": "bob"},
            ]
        },
    )
    with FakeCanvas(seed_demo=False) as canvas:
        summary = apply_seed(canvas, path, load_seed_file(path))
        assert (summary.users, summary.channels, summary.first_id, summary.last_id) == (2, 2, 3, 4)
        ada, bob = canvas.users()[2:]
        assert (ada["name"], ada["sis_user_id"], bob["name"], bob["login_id"]) == (
            "Ada",
            "S1",
            "User bob",
            "bob",
        )
        assert [(c["type"], c["workflow_state"]) for c in canvas.channels(3, include_retired=True)] == [
            ("sms", "unconfirmed"),
            ("email", "retired"),
        ]

        with pytest.raises(
            SeedFileError, match=r"users\[0\]: duplicate sis_user_id 'S1' in the fake already"
        ):
            apply_seed(canvas, path, load_seed_file(path))
