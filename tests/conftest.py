"""Test-session setup: a private AIRFLOW_HOME, set before anything imports Airflow."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Airflow reads its configuration at import time, so this must run before any test module imports it.
_airflow_home = tempfile.mkdtemp(prefix="canvas-provider-tests-")
os.environ["AIRFLOW_HOME"] = _airflow_home
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# dag.test() parses the whole dags folder, so it gets a folder of its own that links to the example DAGs
# and to the test-only DAG files (the repo root would make it walk .venv).
DAGS_FOLDER = Path(_airflow_home) / "dags"
DAGS_FOLDER.mkdir()
(DAGS_FOLDER / "example_dags").symlink_to(REPO_ROOT / "example_dags", target_is_directory=True)
(DAGS_FOLDER / "test_dags").symlink_to(REPO_ROOT / "tests" / "dags" / "dag_files", target_is_directory=True)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
# The UI tests call the real API server app: let its Test button run, and treat every caller as admin.
os.environ["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"
os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
os.environ["AIRFLOW__API_AUTH__JWT_SECRET"] = secrets.token_urlsafe(64)
os.environ.pop("AIRFLOW_CONN_CANVAS_DEFAULT", None)

import importlib.util  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from types import ModuleType  # noqa: E402

import pytest  # noqa: E402

pytest_plugins = ["airflow_provider_canvas.testing.fixtures"]


@dataclass
class LogRecord:
    level: str
    logger: str
    message: str
    raw: str  # every field of the event, so a secret anywhere in it is found


class CapturedLogs(list):
    @property
    def text(self) -> str:
        return "\n".join(record.raw for record in self)

    def messages(self, level: str | None = None) -> list[str]:
        return [r.message for r in self if level is None or r.level == level]


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    """Every structlog event (Airflow's task/hook logging) at DEBUG and above, before any redaction.

    Airflow renders logs through structlog, which pytest's caplog does not see; and capturing before
    Airflow's secret masker runs proves our code never logs a secret in the first place.
    """
    import structlog

    records = CapturedLogs()

    def capture(logger: object, method_name: str, event_dict: dict) -> dict:
        event = str(event_dict.get("event", ""))
        args = event_dict.get("positional_args") or ()
        try:
            message = event % tuple(args) if args else event
        except (TypeError, ValueError):
            message = f"{event} {args}"
        records.append(
            LogRecord(
                method_name, str(event_dict.get("logger_name", "")), message, f"{message} {event_dict!r}"
            )
        )
        raise structlog.DropEvent

    old = structlog.get_config()
    structlog.configure(
        processors=[structlog.stdlib.add_logger_name, capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    try:
        yield records
    finally:
        structlog.configure(
            processors=old["processors"],
            wrapper_class=old["wrapper_class"],
            cache_logger_on_first_use=old["cache_logger_on_first_use"],
        )


def load_script(name: str) -> ModuleType:
    """Import ``scripts/<name>.py`` (not a package) once per session, for tests of the scripts' output."""
    module_name = f"_canvas_provider_script_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, REPO_ROOT / "scripts" / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


@pytest.fixture(scope="session")
def airflow_db():
    """A fresh SQLite metadata database in the session's private AIRFLOW_HOME."""
    from airflow.utils import db

    db.resetdb()
