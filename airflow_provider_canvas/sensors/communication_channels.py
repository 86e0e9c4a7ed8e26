"""Wait until a user's communication channel is active, unconfirmed, present or gone.

Typical use: after creating an e-mail channel, wait until the student confirms it, without holding a
worker slot (``deferrable=True`` hands the wait to the triggerer).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_canvas import exceptions
from airflow_provider_canvas._compat import (
    AirflowException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    conf,
)
from airflow_provider_canvas.links.canvas import CanvasUserLink
from airflow_provider_canvas.wire.channels import (
    match_target_state,
    validate_address,
    validate_channel_type,
    validate_target_state,
)
from airflow_provider_canvas.wire.config import DEFAULT_CONN_ID
from airflow_provider_canvas.wire.urls import channel_id_segment, user_id_segment

if TYPE_CHECKING:
    from airflow.sdk import PokeReturnValue

    from airflow_provider_canvas._compat import Context
    from airflow_provider_canvas.hooks.canvas import CanvasHook

__all__ = ["CanvasCommunicationChannelSensor"]


class CanvasCommunicationChannelSensor(BaseSensorOperator):
    """Wait for a channel to reach ``target_state``; XCom: the channel (None for ``absent``).

    Each poke lists the user's channels and looks for the one named by ``channel_id``, or by
    ``channel_type`` and ``address`` (matched case-insensitively, as Canvas does). Give exactly one of
    ``address`` and ``channel_id``; that is checked when the DAG is parsed, the rendered values before the
    first request. With ``deferrable=True`` the wait runs in the triggerer
    (:class:`~airflow_provider_canvas.triggers.communication_channels.CanvasCommunicationChannelTrigger`)
    and holds no worker slot. Also takes the usual sensor arguments (``poke_interval``, ``timeout``,
    ``mode``, ``soft_fail``, ...).

    :param user_id: Canvas user id, ``self`` or a prefixed id such as ``sis_user_id:S1`` (templated).
    :param channel_type: the channel's type when it is identified by ``address``: ``email`` (default),
        ``sms`` or ``push`` (templated).
    :param address: the channel's address (templated); or give ``channel_id``.
    :param channel_id: the channel's id (templated).
    :param target_state: ``active`` (confirmed), ``unconfirmed``, ``present`` (either) or ``absent``
        (never created, or retired) (templated).
    :param deferrable: wait in the triggerer instead of a worker; defaults to
        ``[operators] default_deferrable``.
    :param canvas_conn_id: the ``canvas`` connection (default ``canvas_default``; templated).
    :param kwargs: passed on to Airflow's ``BaseSensorOperator``.
    :Returns (XCom): Canvas's channel object once it reached ``active``, ``unconfirmed`` or ``present``;
        None for ``absent``.
    :raises ValueError: neither or both of ``address`` and ``channel_id``, or a malformed value.
    :raises ~airflow_provider_canvas.exceptions.CanvasError: Canvas failed after the hook's retries (the
        same class when the wait was deferred).

    :Canvas API: every poke, `List user communication channels
        <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.index>`__
        (``GET /api/v1/users/:user_id/communication_channels``)
    """

    template_fields: Sequence[str] = (
        "canvas_conn_id",
        "user_id",
        "address",
        "channel_id",
        "channel_type",
        "target_state",
    )
    operator_extra_links = (CanvasUserLink(),)
    ui_color = "#e4f0e8"

    def __init__(
        self,
        *,
        user_id: int | str,
        channel_type: str = "email",
        address: str | None = None,
        channel_id: int | str | None = None,
        target_state: str = "active",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        canvas_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if address is not None and channel_id is not None:
            raise ValueError(f"{self.task_id}: give either channel_id or address, not both.")
        if address is None and channel_id is None:
            raise ValueError(f"{self.task_id}: say which channel to watch: give address or channel_id.")
        self.user_id = user_id
        self.channel_type = channel_type
        self.address = address
        self.channel_id = channel_id
        self.target_state = target_state
        self.deferrable = deferrable
        self.canvas_conn_id = canvas_conn_id
        self.canvas_user_id: int | None = None

    @cached_property
    def hook(self) -> CanvasHook:
        """The :class:`~airflow_provider_canvas.hooks.canvas.CanvasHook` of ``canvas_conn_id``, made once."""
        from airflow_provider_canvas.hooks.canvas import CanvasHook

        return CanvasHook(canvas_conn_id=self.canvas_conn_id)

    def _target(self) -> dict[str, Any]:
        """The rendered, validated identity of the channel: checked before any request is sent."""
        user_segment = user_id_segment(self.user_id)
        target: dict[str, Any] = {"target_state": validate_target_state(self.target_state)}
        if self.channel_id is not None:
            target["channel_id"] = int(channel_id_segment(self.channel_id))
        else:
            channel_type = validate_channel_type(self.channel_type)
            target["channel_type"] = channel_type
            target["address"] = validate_address(channel_type, self.address)
        target["user_id"] = self.user_id if user_segment != "self" else "self"
        return target

    def poke(self, context: Context) -> PokeReturnValue:
        """One look at the user's channels.

        :param context: the task's Airflow context.
        :return: done when the channel is in ``target_state``, with the channel as the XCom value.
        """
        from airflow.sdk import PokeReturnValue

        target = self._target()
        user_id = target.pop("user_id")
        done, channel = match_target_state(self.hook.list_communication_channels(user_id), **target)
        if channel and isinstance(channel.get("user_id"), int):
            self.canvas_user_id = channel["user_id"]
        state = channel.get("workflow_state") if channel else "absent"
        self.log.info("Channel is %s; waiting for %s.", state, target["target_state"])
        return PokeReturnValue(is_done=done, xcom_value=dict(channel) if done and channel else None)

    def execute(self, context: Context) -> Any:
        """Poke in the worker, or (``deferrable=True``) look once, then hand the wait to the trigger.

        A channel that is already in ``target_state`` (a re-run, an address created active) finishes the
        task at once, without a round trip through the triggerer.

        :param context: the task's Airflow context.
        :return: the channel, or None for ``absent`` (when not deferred).
        """
        if not self.deferrable:
            return super().execute(context)
        from airflow_provider_canvas.triggers.communication_channels import CanvasCommunicationChannelTrigger

        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        target = self._target()
        self.defer(
            trigger=CanvasCommunicationChannelTrigger(
                **target,
                canvas_conn_id=self.canvas_conn_id,
                poke_interval=float(self.poke_interval),
                timeout_at=time.time() + float(self.timeout),
            ),
            method_name="execute_complete",
            # A backstop only: the trigger's own deadline fires first with a clear timeout event.
            timeout=timedelta(seconds=float(self.timeout) + 60),
        )

    def _address_of(self, channel: dict[str, Any]) -> str | None:
        """The address the trigger left out of its event: as given, or as Canvas stores it (by id)."""
        if self.address is not None:
            return str(self.address)
        listed = self.hook.list_communication_channels(channel.get("user_id") or self.user_id)
        return next((str(c["address"]) for c in listed if c.get("id") == channel.get("id")), None)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Finish a deferred wait from the trigger's event: return the channel, or raise.

        :param context: the task's Airflow context.
        :param event: the trigger's event: ``status`` ``success``, ``timeout`` or ``error``.
        :return: the channel (its address restored: the trigger leaves it out of its event), or None for
            ``absent``.
        :raises ~airflow.exceptions.AirflowSensorTimeout: the deadline passed (``AirflowSkipException``
            with ``soft_fail``).
        :raises ~airflow_provider_canvas.exceptions.CanvasError: the trigger met this Canvas error.
        """
        status = event.get("status")
        if status == "success":
            channel = event.get("channel")
            if channel is not None and "address" not in channel:
                channel = {**channel, "address": self._address_of(channel)}
            if channel and isinstance(channel.get("user_id"), int):
                self.canvas_user_id = channel["user_id"]
            self.log.info("Channel reached %s after %s poll(s).", self.target_state, event.get("polls"))
            return channel
        if status == "timeout":
            message = (
                f"Channel did not become {self.target_state} within {self.timeout:g}s "
                f"(last seen: {event.get('last_state')})."
            )
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        # Re-raise the trigger's error as the same typed exception, so callbacks can tell them apart.
        error_class = getattr(exceptions, str(event.get("error_type")), None)
        summary = str(event.get("summary") or event)
        if isinstance(error_class, type) and issubclass(error_class, exceptions.CanvasError):
            raise error_class(
                summary, status_code=event.get("status_code"), messages=event.get("messages") or []
            )
        if event.get("error_type") == "ValueError":
            raise ValueError(summary)
        raise AirflowException(f"Canvas trigger failed: {summary}")
