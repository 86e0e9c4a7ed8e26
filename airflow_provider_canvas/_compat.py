"""The one place that imports Airflow's public API, so a move between Airflow versions is one edit.

Airflow 3 exposes operator and sensor bases through the Task SDK (``airflow.sdk``). The rest moved there
later: the hook base in 3.1, ``conf`` and the task-facing exceptions after it (3.3 has them), so older
versions fall back to their core homes, name by name (each version's suite runs in CI: ``./dev
test-airflow``). The trigger base still lives in core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, BaseOperatorLink, BaseSensorOperator, Context
from airflow.sdk.log import mask_secret

if TYPE_CHECKING:
    from airflow.sdk.plugins_manager import AirflowPlugin
    from airflow.triggers.base import BaseTrigger, TriggerEvent

try:
    from airflow.sdk import BaseHook
except ImportError:  # pragma: no cover - Airflow 3.0
    from airflow.hooks.base import BaseHook as _CoreBaseHook  # type: ignore[attr-defined]

    class BaseHook(_CoreBaseHook):  # type: ignore[no-redef]
        """Airflow 3.0's core hook base, reading connections the Task SDK way inside a task.

        There the core ``get_connection`` detours through ``airflow.models.Connection``, which asks the Task
        SDK anyway but first warns "Using Connection.get_connection_from_secrets from `airflow.models` is
        deprecated" on every lookup, into every task log. Elsewhere (API server, scripts) it is the core path.
        """

        @classmethod
        def get_connection(cls, conn_id: str) -> Any:
            import sys

            if not hasattr(sys.modules.get("airflow.sdk.execution_time.task_runner"), "SUPERVISOR_COMMS"):
                return super().get_connection(conn_id)
            from airflow.sdk import Connection

            return Connection.get(conn_id)


try:
    from airflow.sdk import conf
except ImportError:  # pragma: no cover - Airflow 3.0 and 3.1
    from airflow.configuration import conf  # type: ignore[assignment]
try:
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
except ImportError:  # pragma: no cover - Airflow 3.0 and 3.1 (3.1 has only AirflowException there)
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )


def __getattr__(name: str) -> Any:
    """The trigger and plugin bases are imported on first use: DAG files never pay for them."""
    if name in ("BaseTrigger", "TriggerEvent"):
        import airflow.triggers.base

        return getattr(airflow.triggers.base, name)
    if name == "AirflowPlugin":
        try:
            from airflow.sdk.plugins_manager import AirflowPlugin
        except ImportError:  # pragma: no cover - Airflow 3.0 and 3.1
            from airflow.plugins_manager import AirflowPlugin  # type: ignore[assignment]
        return AirflowPlugin
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowPlugin",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "Context",
    "TaskDeferred",
    "TriggerEvent",
    "conf",
    "mask_secret",
]
