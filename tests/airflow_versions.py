"""What the suite itself needs from Airflow internals that moved between the versions CI runs (3.0, 3.1, 3.3).

The provider's own version differences live in ``airflow_provider_canvas/_compat.py``; these are the test
suite's (DagBag, serde, the providers manager), imported on first use so that ``tests/conftest.py`` can set
AIRFLOW_HOME before anything imports Airflow.
"""

from __future__ import annotations

import importlib
from typing import Any

from packaging.version import Version


def airflow_version() -> Version:
    """The running Airflow's release (``3.0.6``; pre-release and local parts dropped)."""
    import airflow

    return Version(Version(airflow.__version__).base_version)


def at_least(version: str) -> bool:
    return airflow_version() >= Version(version)


def _first(*places: tuple[str, str]) -> Any:
    for module, name in places:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"none of {places} in Airflow {airflow_version()}")


def dagbag_class() -> Any:
    """``DagBag``: ``airflow.dag_processing.dagbag`` in 3.3, ``airflow.models.dagbag`` in 3.0 and 3.1."""
    return _first(("airflow.dag_processing.dagbag", "DagBag"), ("airflow.models.dagbag", "DagBag"))


def serde_serialize() -> Any:
    """serde's ``serialize`` (how trigger kwargs are stored): in the Task SDK in 3.3, in core in 3.0 and 3.1."""
    return _first(("airflow.sdk.serde", "serialize"), ("airflow.serialization.serde", "serialize"))


def task_runtime_hooks() -> Any:
    """The hooks registry a task's process reads: the Task SDK's own in 3.3, the core manager's in 3.0 and 3.1."""
    try:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
    except ImportError:
        from airflow.providers_manager import ProvidersManager

        return ProvidersManager().hooks
    return ProvidersManagerTaskRuntime().hooks


def cli_json(stdout: str) -> Any:
    """The JSON an ``airflow ... -o json`` command printed: its last line.

    Airflow 3.0 also prints its INFO log lines to stdout (providers manager notices) before the JSON.
    """
    import json

    lines = [line for line in stdout.splitlines() if line.strip()]
    return json.loads(lines[-1])


def is_airflow_supervisor_request(line: str) -> bool:
    """A DEBUG line in which Airflow's in-process test supervisor (``dag.test()``, ``airflow dags test``)
    quotes a request from the task: Airflow's line, not the provider's.

    Such requests carry the values a task asks to have masked (``MaskSecret``, every version) and, on Airflow
    3.0, the rendered template fields before the supervisor masks them (3.1+ redacts them in the task
    first). Airflow 3.0's ``dag.test()`` and ``airflow dags test`` print DEBUG by default.
    """
    if "Sending request" not in line and "Received message from task runner" not in line:
        return False
    return "MaskSecret(" in line or (not at_least("3.1") and "SetRenderedFields(" in line)


def fired_trigger_event(entry: Any) -> Any:
    """The ``TriggerEvent`` of one entry of ``TriggerRunner.events``: a ``(trigger id, event)`` pair in 3.0
    and 3.1, an entry object with ``.event`` in 3.3."""
    return entry.event if hasattr(entry, "event") else entry[1]
