"""The one place that imports Airflow's public API, so a move between Airflow versions is one edit.

Airflow 3 exposes operator and sensor bases through the Task SDK (``airflow.sdk``); 3.1 moved the hook base,
``conf`` and the task-facing exceptions there too, so 3.0 falls back to their core homes. The trigger base
still lives in core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, BaseOperatorLink, BaseSensorOperator, Context
from airflow.sdk.log import mask_secret

if TYPE_CHECKING:
    from airflow.triggers.base import BaseTrigger, TriggerEvent

try:
    from airflow.sdk import BaseHook, conf
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )
except ImportError:  # pragma: no cover - Airflow 3.0
    from airflow.configuration import conf  # type: ignore[assignment]
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined]


def __getattr__(name: str) -> Any:
    """The trigger base is imported on first use: DAG files that only use operators never pay for it."""
    if name in ("BaseTrigger", "TriggerEvent"):
        import airflow.triggers.base

        return getattr(airflow.triggers.base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "Context",
    "TriggerEvent",
    "conf",
    "mask_secret",
]
