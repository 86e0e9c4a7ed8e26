"""The one base class of this provider's operators: the connection, the hook, and how they look in the UI."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_canvas._compat import BaseOperator
from airflow_provider_canvas.wire.config import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow_provider_canvas.hooks.canvas import CanvasHook

__all__ = ["CanvasBaseOperator"]


class CanvasBaseOperator(BaseOperator):
    """Holds ``canvas_conn_id`` (templated, so ``{{ params.canvas }}`` can pick an environment) and the hook.

    The hook is built on first use, inside ``execute()``, after templates are rendered: never at DAG parse
    time, where reading a connection would cost every scheduler loop a lookup.

    :param canvas_conn_id: the Airflow connection of type ``canvas`` (default ``canvas_default``; templated).
    """

    template_fields: Sequence[str] = ("canvas_conn_id",)
    ui_color = "#e4f0e8"

    def __init__(self, *, canvas_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.canvas_conn_id = canvas_conn_id

    @cached_property
    def hook(self) -> CanvasHook:
        from airflow_provider_canvas.hooks.canvas import CanvasHook

        return CanvasHook(canvas_conn_id=self.canvas_conn_id)
