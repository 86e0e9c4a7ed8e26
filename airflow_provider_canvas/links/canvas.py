"""A button on Canvas tasks that opens the user's page in Canvas.

Airflow 3 computes the link when the task finishes, on the rendered (and, for mapped tasks, the
per-index) operator, and stores it as an XCom; so each mapped instance links to its own user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_canvas._compat import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey

__all__ = ["CanvasUserLink"]


class CanvasUserLink(BaseOperatorLink):
    """The "Canvas user" button of the channel operators and the sensor: the user's page in Canvas."""

    name = "Canvas user"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        """The user's page, ``<Canvas URL>/users/<id>`` (``/profile`` for ``self``).

        :param operator: the finished task's operator: its numeric ``canvas_user_id`` (recorded from
            Canvas's answer) or ``user_id``, and its ``canvas_conn_id``.
        :param ti_key: the task instance (unused: the operator already is the rendered, per-index one).
        :return: the URL, or ``""`` (no button) when the user is known only by an SIS id or the connection
            cannot be read where the link is rendered.
        """
        from airflow_provider_canvas.hooks.canvas import CanvasHook
        from airflow_provider_canvas.wire.urls import user_id_segment

        # Canvas's web pages take numeric ids only (not sis_user_id:...), so the operator records the id
        # Canvas answered with; without one (nothing listed yet, an SIS id) there is no link.
        user_id = getattr(operator, "canvas_user_id", None) or getattr(operator, "user_id", None)
        try:
            segment = user_id_segment(user_id)
        except ValueError:
            return ""
        if not segment.isdigit() and segment != "self":
            return ""
        try:
            base_url = CanvasHook(canvas_conn_id=operator.canvas_conn_id).base_url
        except Exception:  # no such connection where the link is rendered: no link rather than an error
            return ""
        return f"{base_url}/users/{segment}" if segment != "self" else f"{base_url}/profile"
