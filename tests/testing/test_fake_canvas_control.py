"""The /__fake__/ control routes and the CLI's channel seeding, which let another process observe the fake."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from airflow_provider_canvas.testing import FakeCanvas, Fault, ThrottleSettings
from airflow_provider_canvas.testing.__main__ import seed_channels

REPO_ROOT = Path(__file__).resolve().parents[2]


def control(canvas: FakeCanvas, method: str, route: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{canvas.base_url}/__fake__/{route}", timeout=10, **kwargs)


def test_stats_mirror_the_in_process_counters_and_reset(canvas, api):
    api.get("users/self")
    api.get("users/self")
    stats = control(canvas, "GET", "stats").json()
    assert stats == {
        "requests": 2,
        "throttled": 0,
        "faults": 0,
        "in_flight": 0,
        "max_in_flight": 1,
        "max_in_flight_by_bucket": dict.fromkeys(canvas.stats.max_in_flight_by_bucket, 1),
        "mean_seconds_in_flight": canvas.stats.mean_seconds_in_flight,
    }
    assert stats["mean_seconds_in_flight"] > 0
    assert control(canvas, "POST", "stats/reset").json()["requests"] == 0
    assert canvas.stats.requests == 0


def test_control_requests_are_not_counted_throttled_faulted_or_recorded(canvas, api):
    canvas.throttle = ThrottleSettings(hwm=0.0)  # every API request would be refused
    canvas.inject(Fault.status(500), times=5)
    canvas.clear_requests()
    for _ in range(3):
        assert control(canvas, "GET", "stats").status_code == 200
    assert canvas.stats.requests == 0
    assert canvas.requests == []
    assert api.get("users/self").status_code == 500  # the armed faults are still there for the API


def test_settings_give_what_the_ceiling_is_computed_from():
    throttle = ThrottleSettings(hwm=300.0, up_front_cost=25.0, cost=0.5)
    with FakeCanvas(latency=0.02, throttle=throttle, per_page_max=50) as canvas:
        settings = control(canvas, "GET", "settings").json()
        assert canvas.per_page_max == 50
    assert settings == {
        "latency": 0.02,
        "per_page_max": 50,
        "throttle": {
            "enabled": True,
            "hwm": 300.0,
            "maximum": 800.0,
            "outflow": 10.0,
            "up_front_cost": 25.0,
            "cost": 0.5,
            "throttle_status": 403,
        },
    }


def test_channels_dump_the_state_with_retired_on_request(canvas, students, api):
    live = control(canvas, "GET", "channels").json()
    assert live == canvas.all_channels()
    everything = control(canvas, "GET", "channels", params={"include_retired": "true"}).json()
    assert everything == canvas.all_channels(include_retired=True)
    assert len(everything) == len(live) + 1  # demo student 3's retired e-mail


def test_tokens_are_new_site_admin_tokens_with_their_own_bucket(canvas, api):
    answer = control(canvas, "POST", "tokens", json={}).json()
    assert answer["user_id"] == canvas.admin_user_id
    token = answer["token"]
    assert token not in (canvas.admin_token, canvas.user_token)
    assert api.get("users/self", token=token).json()["id"] == canvas.admin_user_id
    assert api.get(f"users/{canvas.user_user_id}", token=token).status_code == 200  # an admin's token
    assert len(canvas.stats.max_in_flight_by_bucket) == 1  # the admin token was never used


def test_tokens_for_another_user_and_bad_bodies(canvas, api):
    answer = control(canvas, "POST", "tokens", json={"user_id": canvas.user_user_id}).json()
    assert api.get("users/self", token=answer["token"]).json()["id"] == canvas.user_user_id
    assert api.get(f"users/{canvas.admin_user_id}", token=answer["token"]).status_code == 401
    for body in ({"user_id": "1"}, {"user_id": 999_999}, {"site_admin": "yes"}):
        assert control(canvas, "POST", "tokens", json=body).status_code == 400
    assert control(canvas, "POST", "tokens", data=b"[1]").status_code == 400
    assert control(canvas, "POST", "tokens", data=b"{").status_code == 400


def test_unknown_routes_and_methods(canvas):
    assert control(canvas, "GET", "nothing").status_code == 404
    assert control(canvas, "GET", "tokens").status_code == 405
    assert control(canvas, "DELETE", "stats").status_code == 405
    assert canvas.stats.requests == 0


def test_control_routes_can_be_turned_off():
    with FakeCanvas(control_routes=False) as canvas:
        response = control(canvas, "GET", "stats")
        assert response.status_code == 404
        assert response.json() == {"errors": [{"message": "The specified resource does not exist."}]}
        assert canvas.stats.requests == 1  # an ordinary (routing 404) request again


def test_seed_channels_names_them_after_the_sis_ids():
    with FakeCanvas(seed_demo=False) as canvas:
        users = canvas.add_users(2)
        seed_channels(canvas, users, 3)
        assert [c["address"] for c in canvas.channels(users[1])] == [
            "student000002@example.edu",
            "student000002.2@example.edu",
            "student000002.3@example.edu",
        ]
        assert {c["workflow_state"] for c in canvas.all_channels()} == {"active"}


def test_command_line_seeds_channels_and_reports_the_seeded_ids():
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "airflow_provider_canvas.testing"),
            *("--no-demo", "--seed-users", "3", "--seed-channels", "150"),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info["seeded_users"] == {"count": 3, "first_id": 3, "last_id": 5}
        channels = requests.get(f"{info['base_url']}/__fake__/channels", timeout=10).json()
        assert len(channels) == 450  # past Canvas's 100-per-user cap: seeded directly
        assert {c["user_id"] for c in channels} == {3, 4, 5}
        listed = requests.get(
            f"{info['base_url']}/api/v1/users/5/communication_channels",
            params={"per_page": 100, "page": 2},
            headers={"Authorization": f"Bearer {info['admin_token']}"},
            timeout=10,
        )
        assert [c["address"] for c in listed.json()][-1] == "student000003.150@example.edu"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_command_line_without_seeding_reports_no_ids_and_can_drop_the_control_routes():
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_canvas.testing", "--no-control"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info["seeded_users"] == {"count": 0, "first_id": None, "last_id": None}
        assert requests.get(f"{info['base_url']}/__fake__/stats", timeout=10).status_code == 404
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed-channels", "2"], "--seed-channels needs --seed-users"),
        (["--seed-users", "-1"], "must not be negative"),
    ],
)
def test_command_line_refuses_bad_seeding(args, message):
    done = subprocess.run(
        [sys.executable, "-m", "airflow_provider_canvas.testing", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
