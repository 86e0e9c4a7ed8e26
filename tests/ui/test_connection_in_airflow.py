"""The connection as admins meet it: the API server's form metadata, its Test button, and secrets backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.airflow_versions import at_least, cli_json


@pytest.fixture(scope="module")
def api(airflow_db):
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with TestClient(create_app()) as client:
        # What the UI does on a simple-auth-manager server with all admins: take a token without a password
        # (Airflow 3.0 and 3.3 also let a request without one through; 3.1 does not).
        token = client.get("/auth/token")
        assert token.status_code == 201, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
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
        "ca_bundle",
        "allow_insecure_http",
        "max_concurrency",
        "max_response_bytes",
        "max_pages",
        "max_retry_wait",
    }
    assert extra["per_page"]["value"] == 100
    assert extra["per_page"]["schema"]["title"] == "Page size"
    assert extra["verify"]["schema"]["enum"] == ["true", "false"]
    assert extra["allow_insecure_http"]["schema"]["type"] == ["boolean", "null"]
    if at_least("3.2"):  # conn-fields, with bounds the form enforces
        assert extra["per_page"]["schema"]["maximum"] == 100
        assert extra["timeout"]["schema"]["type"] == ["number", "null"]
    else:  # the hook's WTForms fields: no bounds, no decimals (the hook checks those, naming the field)
        assert "maximum" not in extra["per_page"]["schema"]
        assert (extra["timeout"]["schema"]["type"], extra["timeout"]["value"]) == (["string", "null"], "30")


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


def test_test_button_on_a_stored_connection_with_the_body_the_33_ui_sends(api, fake_canvas):
    """The list row's Test sends ``port: 0`` and the masked token; Airflow 3.3 alone answers 400."""
    if not at_least("3.1"):
        pytest.skip(
            "Airflow 3.0's Test route tests only the values in the request and never reads the stored "
            "connection, so no version of this body (a masked token) can pass there"
        )
    created = api.post(
        "/api/v2/connections",
        json={
            "connection_id": "canvas_stored",
            "conn_type": "canvas",
            "host": fake_canvas.base_url,
            "password": fake_canvas.admin_token,
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["port"] is None
    try:
        result = _test_button(
            api, connection_id="canvas_stored", host=fake_canvas.base_url, password="***", port=0, login=""
        )
    finally:
        api.delete("/api/v2/connections/canvas_stored")
    assert result == {
        "status": True,
        "message": f"Connected to {fake_canvas.base_url} as Site Admin (user id 1).",
    }


def test_the_test_button_plugin_is_registered(api):
    plugins = api.get("/api/v2/plugins").json()["plugins"]
    (ours,) = [p for p in plugins if p["name"] == "canvas_test_button"]
    # Only the 3.3.x releases have the port-0 bug; elsewhere the plugin is there and installs nothing.
    fixed = ["airflow_provider_canvas.plugins.test_button.CanvasTestPortFix"] if at_least("3.3") else []
    assert [m["middleware"] for m in ours.get("fastapi_root_middlewares", [])] == fixed


def test_test_button_explains_a_bad_token_without_echoing_it(api, fake_canvas):
    result = _test_button(api, host=fake_canvas.base_url, password="not-the-token-12345")
    assert result["status"] is False
    assert "rejected the access token" in result["message"]
    assert "not-the-token-12345" not in result["message"]


def test_test_button_names_the_form_label_not_airflows_temporary_id(api, fake_canvas):
    result = _test_button(
        api, host=fake_canvas.base_url, password=fake_canvas.admin_token, extra='{"timeout": 0}'
    )
    assert result == {
        "status": False,
        "message": "'Timeout (seconds)' (extra timeout) must be at least 0.1 and at most 3600 seconds; got 0.",
    }
    assert fake_canvas.requests == []


def test_a_named_connection_is_named_in_its_errors(monkeypatch):
    from airflow_provider_canvas.exceptions import CanvasConfigurationError
    from airflow_provider_canvas.hooks._connection import shown_conn_id
    from airflow_provider_canvas.hooks.canvas import CanvasHook

    bad = '{"conn_type": "canvas", "host": "https://canvas.example.edu", "password": "tok-12345", "extra": {"verify": "maybe"}}'
    monkeypatch.setenv("AIRFLOW_CONN_CANVAS_NIGHTLY", bad)
    with pytest.raises(
        CanvasConfigurationError, match=r"^Connection 'canvas_nightly': 'Verify TLS' \(extra verify\)"
    ):
        _ = CanvasHook(canvas_conn_id="canvas_nightly").settings
    assert shown_conn_id("LKr3Bc8n") == "LKr3Bc8n"  # no AIRFLOW_CONN_LKR3BC8N: not Airflow's Test copy
    monkeypatch.setenv("AIRFLOW_CONN_LKR3BC8N", bad)
    assert shown_conn_id("LKr3Bc8n") is None
    assert shown_conn_id("canvas_nightly") == "canvas_nightly"


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
    (ours,) = [p for p in cli_json(providers.stdout) if p["package_name"] == "airflow-provider-canvas"]
    assert ours["version"] == "0.1.0"
    hooks = subprocess.run(
        [airflow, "providers", "hooks", "-o", "json"], capture_output=True, text=True, timeout=120, check=True
    )
    (hook,) = [h for h in cli_json(hooks.stdout) if h["connection_type"] == "canvas"]
    assert hook["class"] == "airflow_provider_canvas.hooks.canvas.CanvasHook"
    assert (hook["hook_name"], hook["conn_id_attribute_name"]) == ("Canvas LMS", "canvas_conn_id")


def test_the_providers_page_links_our_docs(api):
    providers = api.get("/api/v2/providers", params={"limit": 100}).json()["providers"]
    (ours,) = [p for p in providers if p["package_name"] == "airflow-provider-canvas"]
    assert ours["version"] == "0.1.0"
    if not at_least("3.1"):
        assert "documentation_url" not in ours  # Airflow 3.0's Providers page links no provider's docs
        return
    # Airflow 3.1 keeps the space after the comma of "Project-URL: Documentation, ..." (a browser ignores it
    # in a link); later versions strip it.
    url = ours["documentation_url"] if at_least("3.2") else ours["documentation_url"].strip()
    # Relative: the UI's Providers page is at <base>/providers, so the link opens <base>/canvas-provider-docs/,
    # which the provider's docs plugin serves from this very API server.
    assert url == "canvas-provider-docs/"
    page = api.get("/" + url)
    assert page.status_code == 200
    assert "airflow-provider-canvas" in page.text
