"""The connection as admins meet it: the API server's form metadata, its Test button, and secrets backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def api(airflow_db):
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with TestClient(create_app()) as client:
        yield client


def test_connection_form_shows_our_fields(api):
    response = api.get("/ui/connections/hook_meta")
    assert response.status_code == 200
    (meta,) = [m for m in response.json() if m["connection_type"] == "canvas"]
    assert meta["hook_name"] == "Canvas LMS"
    standard = meta["standard_fields"]
    assert standard["password"]["title"] == "Access Token"
    assert standard["host"]["title"] == "Canvas URL"
    assert all(standard[name]["hidden"] for name in ("login", "port"))
    extra = meta["extra_fields"]
    assert set(extra) == {
        "per_page",
        "timeout",
        "max_retries",
        "verify",
        "allow_insecure_http",
        "max_concurrency",
        "max_response_bytes",
        "max_pages",
        "max_retry_wait",
    }
    assert extra["per_page"]["value"] == 100
    assert extra["per_page"]["schema"]["maximum"] == 100


def _test_button(api, **fields) -> dict:
    body = {"connection_id": "canvas_ui", "conn_type": "canvas", **fields}
    response = api.post("/api/v2/connections/test", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_test_button_succeeds_and_names_the_user(api, fake_canvas):
    result = _test_button(
        api, host=fake_canvas.base_url, password=fake_canvas.admin_token, extra='{"timeout": 5}'
    )
    assert result == {
        "status": True,
        "message": f"Connected to {fake_canvas.base_url} as Site Admin (user id 1).",
    }
    (request,) = fake_canvas.requests
    assert (request.method, request.path) == ("GET", "/api/v1/users/self")


def test_test_button_explains_a_bad_token_without_echoing_it(api, fake_canvas):
    result = _test_button(api, host=fake_canvas.base_url, password="not-the-token-12345")
    assert result["status"] is False
    assert "rejected the access token" in result["message"]
    assert "not-the-token-12345" not in result["message"]


def test_test_button_refuses_plain_http_to_a_real_host(api, fake_canvas):
    result = _test_button(api, host="http://canvas.example.edu", password="some-token-12345")
    assert result["status"] is False
    assert "plain http://" in result["message"]


def test_connection_from_a_secrets_backend(fake_canvas, tmp_path):
    connections = tmp_path / "connections.json"
    connections.write_text(
        json.dumps(
            {
                "canvas_vault": {
                    "conn_type": "canvas",
                    "host": fake_canvas.base_url,
                    "password": fake_canvas.admin_token,
                }
            }
        )
    )
    env = {
        **os.environ,
        "AIRFLOW__SECRETS__BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"connections_file_path": str(connections)}),
    }
    code = (
        "from airflow_provider_canvas.hooks.canvas import CanvasHook;"
        "print(CanvasHook(canvas_conn_id='canvas_vault').test_connection())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(True, 'Connected to" in result.stdout
    assert fake_canvas.requests[0].path == "/api/v1/users/self"


def test_airflow_cli_lists_the_provider_and_its_connection_type():
    airflow = str(Path(sys.executable).with_name("airflow"))
    providers = subprocess.run(
        [airflow, "providers", "list", "-o", "json"], capture_output=True, text=True, timeout=120, check=True
    )
    (ours,) = [p for p in json.loads(providers.stdout) if p["package_name"] == "airflow-provider-canvas"]
    assert ours["version"] == "0.1.0"
    hooks = subprocess.run(
        [airflow, "providers", "hooks", "-o", "json"], capture_output=True, text=True, timeout=120, check=True
    )
    (hook,) = [h for h in json.loads(hooks.stdout) if h["connection_type"] == "canvas"]
    assert hook["class"] == "airflow_provider_canvas.hooks.canvas.CanvasHook"
    assert (hook["hook_name"], hook["conn_id_attribute_name"]) == ("Canvas LMS", "canvas_conn_id")
