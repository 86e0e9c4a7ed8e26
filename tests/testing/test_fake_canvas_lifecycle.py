"""Starting and stopping, keep-alive, recording, seeding helpers, the pytest fixtures and the CLI."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from airflow_provider_canvas.testing import FakeCanvas, Fault

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_stop_is_quick_and_leaves_no_thread_even_with_open_and_stalled_connections():
    before = set(threading.enumerate())
    canvas = FakeCanvas().start()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {canvas.admin_token}"
    assert session.get(f"{canvas.base_url}/api/v1/users/self", timeout=10).status_code == 200  # stays open
    canvas.inject(Fault.stall(60))
    outcome: list[BaseException] = []

    def stalled_call() -> None:
        try:
            requests.get(f"{canvas.base_url}/api/v1/users/self", timeout=60)
        except requests.RequestException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=stalled_call)
    caller.start()
    time.sleep(0.3)
    started = time.perf_counter()
    canvas.stop()
    assert time.perf_counter() - started < 2.0
    caller.join(5)
    session.close()
    assert outcome, "the stalled request must end with a dropped connection"
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leftover == []
    canvas.stop()  # idempotent


def test_base_url_port_and_double_start():
    canvas = FakeCanvas()
    with pytest.raises(RuntimeError):
        _ = canvas.base_url
    with canvas:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", canvas.base_url)
        assert canvas.port > 0
        with pytest.raises(RuntimeError):
            canvas.start()
    with pytest.raises(RuntimeError):
        _ = canvas.port


def test_connections_are_kept_alive(canvas):
    connection = http.client.HTTPConnection("127.0.0.1", canvas.port, timeout=10)
    try:
        for _ in range(3):  # http.client never reconnects on its own: a closed socket would raise
            connection.request(
                "GET", "/api/v1/users/self", headers={"Authorization": f"Bearer {canvas.user_token}"}
            )
            response = connection.getresponse()
            assert response.status == 200
            assert response.getheader("Connection") is None
            assert int(response.getheader("Content-Length")) == len(response.read())
    finally:
        connection.close()


def test_head_answers_headers_only(canvas, api):
    response = api.request("HEAD", "users/self/communication_channels")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["Content-Length"]) > 0


def test_chunked_request_body(canvas, api):
    chunks = iter(
        [b"communication_channel[address]=chunked@example.edu&", b"communication_channel[type]=email"]
    )
    response = api.post(
        "users/self/communication_channels",
        data=chunks,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.json()["address"] == "chunked@example.edu"


def test_requests_are_recorded(canvas, api):
    canvas.clear_requests()
    api.get("users/sis_user_id:a%2Fb/communication_channels?per_page=5")
    api.create(canvas.user_user_id, "rec@example.edu")
    get, post = canvas.requests
    assert (get.method, get.path, get.query, get.status) == (
        "GET",
        "/api/v1/users/sis_user_id:a%2Fb/communication_channels",
        {"per_page": "5"},
        404,
    )
    assert get.headers["authorization"] == f"Bearer {canvas.admin_token}"
    assert (post.method, post.status, post.throttled, post.fault) == ("POST", 200, False, None)
    assert b"rec%40example.edu" in post.body
    assert post.started_at >= get.started_at
    assert post.duration > 0
    canvas.clear_requests()
    assert canvas.requests == []


def test_stats_count_and_reset(canvas, api):
    canvas.inject(Fault.status(500))
    for _ in range(3):
        api.get("users/self")
    stats = canvas.stats
    assert (stats.requests, stats.faults, stats.throttled, stats.in_flight) == (3, 1, 0, 0)
    assert stats.max_in_flight == 1
    canvas.reset_stats()
    assert canvas.stats.requests == 0


def test_connection_json(canvas):
    conn = json.loads(canvas.connection_json())
    assert conn == {
        "conn_type": "canvas",
        "host": canvas.base_url,
        "password": canvas.admin_token,
        "extra": {},
    }
    conn = json.loads(canvas.connection_json(token=canvas.user_token, per_page=50, max_retries=2))
    assert conn["password"] == canvas.user_token
    assert conn["extra"] == {"per_page": 50, "max_retries": 2}
    assert len(canvas.admin_token) >= 20
    assert canvas.admin_token != canvas.user_token


def test_add_users_is_fast_indexed_and_continues_numbering(canvas, api):
    started = time.perf_counter()
    ids = canvas.add_users(5000)
    assert time.perf_counter() - started < 2.0
    more = canvas.add_users(2)
    assert len(set(ids + more)) == 5002
    me = api.get("users/sis_user_id:student005002").json()
    assert (me["id"], me["sis_user_id"], me["login_id"]) == (
        more[-1],
        "student005002",
        "student005002@example.edu",
    )
    assert api.get("users/sis_login_id:STUDENT000001@example.edu").json()["id"] == ids[0]
    with pytest.raises(ValueError, match="duplicate sis_user_id"):
        canvas.add_user("Clash", sis_user_id="student000001")
    with pytest.raises(ValueError, match="duplicate login_id"):
        canvas.add_user("Clash", login_id="Student000001@Example.edu")


def test_state_helpers(canvas):
    user = canvas.add_user("Helper Test")
    canvas.add_channel(user, "email", "a@example.edu")
    canvas.add_channel(user, "sms", "+15550001111", workflow_state="retired")
    assert [c["address"] for c in canvas.channels(user)] == ["a@example.edu"]
    assert [c["workflow_state"] for c in canvas.channels(user, include_retired=True)] == ["active", "retired"]
    everything = canvas.all_channels(include_retired=True)
    assert len(everything) == len(canvas.all_channels()) + 2  # plus student 3's retired e-mail
    with pytest.raises(ValueError, match="workflow_state"):
        canvas.add_channel(user, "email", "b@example.edu", workflow_state="deleted")
    with pytest.raises(ValueError, match="no user"):
        canvas.channels(987654)


def test_fixture_module(pytester):
    pytester.makepyfile(
        """
        import json, os
        import requests

        pytest_plugins = ["airflow_provider_canvas.testing.fixtures"]

        def test_connection(canvas_connection):
            conn = json.loads(os.environ["AIRFLOW_CONN_CANVAS_DEFAULT"])
            assert conn["host"] == canvas_connection.base_url
            response = requests.get(
                conn["host"] + "/api/v1/users/self",
                headers={"Authorization": "Bearer " + conn["password"]},
                timeout=10,
            )
            assert response.json()["id"] == canvas_connection.admin_user_id

        def test_fake_canvas(fake_canvas):
            assert fake_canvas.base_url.startswith("http://127.0.0.1:")
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_importing_the_fake_pulls_in_neither_airflow_nor_pytest():
    code = (
        "import sys, airflow_provider_canvas.testing, airflow_provider_canvas.testing.__main__\n"
        "print(sorted(m for m in ('airflow', 'pytest') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "[]"


def test_command_line_prints_one_json_line_and_stops_on_sigterm():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_canvas.testing",
            "--seed-users",
            "3",
            "--throttle-status",
            "429",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert set(info) >= {"base_url", "admin_token", "user_token", "connection_json"}
        assert json.loads(info["connection_json"])["host"] == info["base_url"]
        response = requests.get(
            f"{info['base_url']}/api/v1/users/sis_user_id:student000003",
            headers={"Authorization": f"Bearer {info['admin_token']}"},
            timeout=10,
        )
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        assert "Fake Canvas listening on" in process.stderr.read()
        assert process.stdout.read() == ""  # only the JSON line goes to stdout
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
