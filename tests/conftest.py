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
from contextlib import contextmanager  # noqa: E402
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


class _StdlibCapture(logging.Handler):
    """Keeps each standard-library log record once, as it was logged (before any handler's filter masks it)."""

    def __init__(self, records: CapturedLogs) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "_canvas_test_captured", False):
            return  # the same record again, on its way up to a parent logger's handlers
        record._canvas_test_captured = True
        message = record.getMessage()
        error = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        self.records.append(
            LogRecord(record.levelname.lower(), record.name, message, f"{message} {record.args!r} {error}")
        )


# Where the provider's own stdlib loggers live: Airflow names hook and operator loggers after the class under
# airflow.task.hooks / airflow.task.operators (3.0); triggers and helpers log under the module's own name.
PROVIDER_LOGGERS = (
    "airflow.task.hooks.airflow_provider_canvas",
    "airflow.task.operators.airflow_provider_canvas",
    "airflow_provider_canvas",
)


@contextmanager
def capture_stdlib_logging(records: CapturedLogs) -> Iterator[None]:
    """Every stdlib record into ``records``, first in line on every logger with handlers; ours at DEBUG.

    Airflow 3.0 hooks, operators and sensors log through stdlib ``logging`` (``airflow.task.*``) and their
    handlers carry Airflow's secret-masking filter, which rewrites the record in place: the capture must see
    it first. The provider's loggers are set to DEBUG (Airflow's own keep their levels); all is restored after.
    """
    handler = _StdlibCapture(records)
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    with_handlers = [logger for logger in loggers if logger.handlers]
    levels = {logging.getLogger(name): logging.getLogger(name).level for name in PROVIDER_LOGGERS}
    for logger in with_handlers:
        logger.handlers.insert(0, handler)
    for logger in levels:
        logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        for logger in with_handlers:
            logger.removeHandler(handler)
        for logger, level in levels.items():
            logger.setLevel(level)


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    """Every log event of Airflow's task/hook logging at DEBUG and above, before any redaction.

    Airflow 3.1+ renders hook and task logs through structlog, which pytest's caplog does not see; Airflow
    3.0 hooks log through stdlib ``logging`` while its triggerer uses structlog: both are captured. Capturing
    before Airflow's secret masker runs proves our code never logs a secret in the first place.
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
                method_name,
                str(event_dict.get("logger_name") or event_dict.get("logger", "")),
                message,
                f"{message} {event_dict!r}",
            )
        )
        raise structlog.DropEvent

    old = structlog.get_config()

    def logger_name(logger: object, method_name: str, event_dict: dict) -> dict:
        # structlog.stdlib.add_logger_name, also for Airflow 3.0's triggerer (its PrintLogger has no name).
        event_dict["logger"] = getattr(logger, "name", "")
        return event_dict

    structlog.configure(
        processors=[logger_name, capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    try:
        with capture_stdlib_logging(records):
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
