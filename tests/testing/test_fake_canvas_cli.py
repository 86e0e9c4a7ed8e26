"""The fake's command line for DAG authors: ``--seed-file`` and ``--fault``, run as a real process over HTTP."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.testing.fake_cli import REPO_ROOT, run_fake_expecting_failure, running_fake

SEED_JSON = REPO_ROOT / "example_dags" / "data" / "fake_canvas_seed.json"
SEED_CSV = REPO_ROOT / "example_dags" / "data" / "fake_canvas_seed.csv"


def _live(fake, user: str) -> list[tuple[str, str, str]]:
    """The user's channels as Canvas lists them (no retired ones), through the real API."""
    response = fake.api("GET", f"users/{user}/communication_channels")
    assert response.status_code == 200, response.text
    return [(c["type"], c["address"], c["workflow_state"]) for c in response.json()]


def _state(fake) -> list[dict]:
    """Every seeded user and channel (retired too), without the ids and times that differ between runs."""
    return [
        {
            **{key: user[key] for key in ("name", "sis_user_id", "login_id", "integration_id")},
            "channels": [(c["type"], c["address"], c["workflow_state"]) for c in user["channels"]],
        }
        for user in fake.control("users", include_retired="true")
    ]


@pytest.mark.parametrize("seed_file", [SEED_JSON, SEED_CSV], ids=["json", "csv"])
def test_a_seed_file_adds_users_by_sis_id_and_login_with_their_channels(seed_file: Path):
    with running_fake("--no-demo", "--seed-file", str(seed_file)) as fake:
        assert fake.info["seed_files"] == [
            {"path": str(seed_file), "users": 3, "channels": 4, "first_id": 3, "last_id": 5}
        ]
        assert _live(fake, "sis_user_id:S100") == [
            ("email", "ada.lovelace@example.edu", "active"),
            ("sms", "+15555550100", "unconfirmed"),
        ]
        assert _live(fake, "sis_login_id:GHopper") == [("email", "grace.hopper@example.edu", "active")]
        assert _live(fake, "sis_integration_id:HR-0101") == _live(fake, "sis_user_id:S101")
        assert _live(fake, "sis_user_id:S102") == []
        assert fake.api("GET", "users/sis_user_id:S103/communication_channels").status_code == 404
        users = fake.control("users", include_retired="true")
        grace = next(user for user in users if user["sis_user_id"] == "S101")
        assert [c["workflow_state"] for c in grace["channels"]] == ["active", "retired"]
        assert [user["id"] for user in users] == [1, 2, 3, 4, 5]  # the admin, the plain user, the seed
    assert "/__fake__/users" in fake.stderr


def test_the_csv_and_json_seed_files_make_the_same_canvas():
    with running_fake("--no-demo", "--seed-file", str(SEED_JSON)) as from_json:
        state = _state(from_json)
    with running_fake("--no-demo", "--seed-file", str(SEED_CSV)) as from_csv:
        assert _state(from_csv) == state
    assert len(state) == 5


def test_seed_files_add_to_the_demo_data_and_to_each_other(tmp_path: Path):
    more = tmp_path / "more.json"
    more.write_text(
        json.dumps({"users": [{"sis_user_id": "S200", "channels": [{"address": "x@example.edu"}]}]})
    )
    with running_fake("--seed-file", str(SEED_CSV), "--seed-file", str(more)) as fake:
        summaries = fake.info["seed_files"]
        assert [(s["users"], s["first_id"], s["last_id"]) for s in summaries] == [(3, 6, 8), (1, 9, 9)]
        assert _live(fake, "sis_user_id:demo-student-1") == [
            ("email", "demo-student-1@example.edu", "active")
        ]
        assert _live(fake, "sis_user_id:S200") == [("email", "x@example.edu", "active")]
        assert next(u for u in fake.control("users") if u["sis_user_id"] == "S200")["name"] == "User S200"


def test_a_status_fault_answers_the_next_matching_requests_then_canvas_again():
    with running_fake(
        "--fault", "status=503,times=2,method=POST", "--fault", "status=404,path=/users/self$"
    ) as fake:
        assert fake.info["faults"] == ["status=503,times=2,method=POST", "status=404,path=/users/self$"]
        form = {"communication_channel[type]": "email", "communication_channel[address]": "new@example.edu"}
        path = "users/sis_user_id:demo-student-1/communication_channels"
        assert fake.api("GET", path).status_code == 200  # not a POST: untouched
        first, second = (fake.api("POST", path, data=form) for _ in range(2))
        assert (first.status_code, second.status_code) == (503, 503)
        assert "text/html" in first.headers["Content-Type"]  # a proxy's page, as in production
        created = fake.api("POST", path, data=form)
        assert created.status_code == 200 and created.json()["address"] == "new@example.edu"
        assert fake.api("GET", "users/self").status_code == 404
        assert fake.api("GET", "users/self").status_code == 200
        assert fake.control("stats")["faults"] == 3


def test_throttle_faults_refuse_like_canvas_and_always_keeps_going():
    with running_fake(
        "--fault", "throttle,times=always,method=DELETE", "--fault", "throttle=429,times=1"
    ) as fake:
        for _ in range(3):
            refused = fake.api(
                "DELETE", "users/self/communication_channels/push", data={"push_token": "t0k3n"}
            )
            assert refused.status_code == 403
            assert refused.text == "403 Forbidden (Rate Limit Exceeded)\n"
            assert "X-Rate-Limit-Remaining" in refused.headers
        assert fake.api("GET", "users/self").status_code == 429
        assert fake.api("GET", "users/self").status_code == 200
        assert fake.control("stats")["throttled"] == 4


def test_latency_slows_the_chosen_requests_or_all_of_them():
    with running_fake("--fault", "latency=0.6,times=1,method=DELETE", "--fault", "latency=0.2") as fake:
        assert fake.control("settings")["latency"] == pytest.approx(0.2)
        started = time.monotonic()
        fake.api("DELETE", "users/self/communication_channels/999999")
        slow = time.monotonic() - started
        started = time.monotonic()
        fake.api("DELETE", "users/self/communication_channels/999999")
        normal = time.monotonic() - started
        assert slow >= 0.6 + 0.2
        assert 0.2 <= normal < slow


def test_throttle_harder_scales_the_throttle_so_fewer_concurrent_requests_fit():
    def concurrent_gets(fake, n: int) -> list[int]:
        with ThreadPoolExecutor(n) as pool:
            return list(pool.map(lambda _: fake.api("GET", "users/self").status_code, range(n)))

    with running_fake("--latency", "0.5") as fake:
        assert sorted(concurrent_gets(fake, 6)) == [200] * 6  # Canvas's default: about 12 fit
    with running_fake("--latency", "0.5", "--fault", "throttle-harder=4") as fake:
        assert fake.control("settings")["throttle"] == {
            "enabled": True,
            "hwm": 600.0,
            "maximum": 800.0,
            "outflow": 2.5,
            "up_front_cost": 200.0,
            "cost": 0.04,
            "throttle_status": 403,
        }
        statuses = concurrent_gets(fake, 6)
        assert statuses.count(403) >= 3  # 600 / 200: the third request in flight reaches the high-water mark
        assert 200 in statuses


def test_random_faults_with_a_seed_hit_about_the_rate():
    with running_fake("--fault", "random=0.5,seed=3,method=GET") as fake:
        statuses = []
        for _ in range(40):
            try:
                statuses.append(fake.api("GET", "users/self").status_code)
            except OSError:  # the default mix includes a connection reset
                statuses.append(0)
        failed = sum(status != 200 for status in statuses)
        assert 8 <= failed <= 32
        assert fake.control("stats")["faults"] == failed
        form = {"communication_channel[type]": "email", "communication_channel[address]": "me@example.edu"}
        for _ in range(5):  # method=GET: POSTs are never chosen
            assert fake.api("POST", "users/self/communication_channels", data=form).status_code in (200, 400)
        assert fake.control("stats")["faults"] == failed


# ----- refused before anything starts -------------------------------------------------------------------


def test_a_bad_seed_file_is_refused_with_every_problem_by_line_and_field(tmp_path: Path):
    seed = tmp_path / "contacts.csv"
    seed.write_text(
        "sis_user_id,login_id,name,channel_type,address,workflow_state\n"
        "S1,s1,One,email,one@example.edu,activ\n"
        "S2,s2,Two,fax,two@example.edu,active\n"
        "S3,s3,Three,email,three-at-example.edu,active\n",
        encoding="utf-8",
    )
    done = run_fake_expecting_failure("--seed-file", str(seed))
    assert done.returncode == 2
    assert done.stdout == ""  # no JSON line: it never started
    assert f"seed file {seed}: 3 problem(s):" in done.stderr
    assert "line 2, workflow_state: 'activ' is not one of active, unconfirmed, retired" in done.stderr
    assert "line 3, channel_type: 'fax' is not one of email, sms, slack" in done.stderr
    assert "line 4, address: 'three-at-example.edu' is not an e-mail address Canvas accepts" in done.stderr


def test_a_seed_user_that_clashes_with_the_demo_data_names_the_fix(tmp_path: Path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"users": [{"sis_user_id": "demo-student-1"}]}), encoding="utf-8")
    done = run_fake_expecting_failure("--seed-file", str(seed))
    assert done.returncode == 2
    assert "users[0]: duplicate sis_user_id 'demo-student-1'" in done.stderr
    assert "--no-demo" in done.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("statu=503", "unknown fault 'statu'; use one of status, throttle,"),
        ("status=99", "status needs an HTTP status from 400 to 599, e.g. status=503"),
        ("status=503,times=0", "times must be a whole number from 1, or 'always'; got '0'"),
        ("status=503,method=get it", "method must be an HTTP method"),
        ("status=503,path=(", "path is not a regular expression"),
        ("status=503,tims=2", "status does not take tims (use times, method, path)"),
        ("throttle-harder=0.5", "throttle-harder needs a number from 1 to 1000"),
        ("throttle-harder=2,times=3", "throttle-harder does not take times (it applies to every request)"),
        ("reset=1", "reset takes no value"),
        ("status=500,after-processing", "after-processing only applies to reset and stall"),
        ("random=2", "random needs a number from 0 to 1"),
    ],
)
def test_a_bad_fault_is_refused_with_what_to_write(spec: str, message: str):
    done = run_fake_expecting_failure("--fault", spec)
    assert done.returncode == 2
    assert f"argument --fault: {spec!r}: {message}" in done.stderr
