"""The one place that imports Airflow's public API, so a move between Airflow versions is one edit.

Airflow 3 exposes hook, operator and sensor bases through the Task SDK (``airflow.sdk``); the
trigger base still lives in core.
"""

from __future__ import annotations

try:  # Airflow 3.1+ moved the task-facing exceptions into the Task SDK
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
except ImportError:  # pragma: no cover - Airflow 3.0
    from airflow.exceptions import AirflowException, AirflowFailException  # type: ignore[no-redef]
from airflow.sdk import BaseHook, BaseOperator, BaseOperatorLink, BaseSensorOperator, Context, conf
from airflow.sdk.log import mask_secret
from airflow.triggers.base import BaseTrigger, TriggerEvent

__all__ = [
    "AirflowException",
    "AirflowFailException",
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
