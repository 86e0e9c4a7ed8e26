from __future__ import annotations

import importlib
import importlib.metadata
import json
from pathlib import Path

import airflow
import jsonschema

import airflow_provider_canvas
from airflow_provider_canvas import get_provider_info
from tests.airflow_versions import task_runtime_hooks


def _schema() -> dict:
    return json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())


def test_provider_info_is_valid_for_airflow():
    jsonschema.validate(get_provider_info(), _schema())


def test_entry_point_is_registered():
    (entry_point,) = [
        ep
        for ep in importlib.metadata.entry_points(group="apache_airflow_provider")
        if ep.value.startswith("airflow_provider_canvas")
    ]
    assert entry_point.load()() == get_provider_info()


def test_package_name_and_version_match_the_distribution():
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-canvas"
    assert info["versions"][0] == importlib.metadata.version("airflow-provider-canvas")
    assert airflow_provider_canvas.__version__ == info["versions"][0]


def test_every_class_and_module_named_exists():
    info = get_provider_info()
    for conn in info["connection-types"]:
        module, _, name = conn["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), name)
        assert hook.conn_type == conn["connection-type"]
        assert hook.hook_name == conn["hook-name"]
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(section, []):
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for link in info.get("extra-links", []):
        module, _, name = link.rpartition(".")
        assert getattr(importlib.import_module(module), name)


def test_connection_form_fields_and_behaviour():
    (conn,) = get_provider_info()["connection-types"]
    assert conn["connection-type"] == "canvas"
    assert set(conn["conn-fields"]) >= {"per_page", "timeout", "max_retries", "verify", "allow_insecure_http"}
    assert conn["ui-field-behaviour"]["relabeling"]["password"] == "Access Token"
    assert {"schema", "login", "port"} <= set(conn["ui-field-behaviour"]["hidden-fields"])


def test_airflow_registers_hook_widgets_and_behaviour():
    from airflow.providers_manager import ProvidersManager

    hook = task_runtime_hooks()["canvas"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_canvas.hooks.canvas.CanvasHook"
    assert hook.connection_id_attribute_name == "canvas_conn_id"
    manager = ProvidersManager()
    assert "airflow-provider-canvas" in manager.providers
    assert "extra__canvas__per_page" in manager.connection_form_widgets
    assert manager.field_behaviours["canvas"]["relabeling"]["password"] == "Access Token"


def test_legacy_form_behaviour_matches_the_declaration():
    from airflow_provider_canvas.hooks.canvas import CanvasHook

    (conn,) = get_provider_info()["connection-types"]
    legacy = CanvasHook.get_ui_field_behaviour()
    assert legacy["hidden_fields"] == conn["ui-field-behaviour"]["hidden-fields"]
    assert legacy["relabeling"] == {"host": "Canvas URL", "password": "Access Token"}


def test_every_known_extra_is_a_form_field_with_the_parser_default():
    """An extra the hook reads but the form lacks can only be set through JSON; the defaults must agree."""
    from airflow_provider_canvas.wire import config
    from airflow_provider_canvas.wire.config import KNOWN_EXTRAS, parse_connection

    (conn,) = get_provider_info()["connection-types"]
    assert set(conn["conn-fields"]) == set(KNOWN_EXTRAS)
    settings = parse_connection(conn_id="c", host="https://c.example.edu", password="tok-12345", extra={})
    for name in ("per_page", "timeout", "max_retries", "max_concurrency", "max_response_bytes", "max_pages"):
        assert conn["conn-fields"][name]["schema"]["default"] == getattr(settings, name), name
    assert conn["conn-fields"]["max_retry_wait"]["schema"]["default"] == config.DEFAULT_MAX_RETRY_WAIT
    schema = conn["conn-fields"]["max_response_bytes"]["schema"]
    assert (schema["minimum"], schema["maximum"]) == config.MAX_RESPONSE_BYTES_RANGE
