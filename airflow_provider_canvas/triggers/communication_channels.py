"""Waiting for a channel's state in the triggerer, so a long wait holds no worker slot.

The trigger only polls: its arguments are JSON-plain and its deadline is absolute, so a triggerer
restart rebuilds it from its serialised form and carries on where it stopped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow_provider_canvas._compat import BaseTrigger, TriggerEvent
from airflow_provider_canvas.exceptions import CanvasError
from airflow_provider_canvas.hooks.canvas_async import CanvasAsyncHook
from airflow_provider_canvas.wire.channels import match_target_state
from airflow_provider_canvas.wire.config import DEFAULT_CONN_ID

__all__ = ["CanvasCommunicationChannelTrigger"]


class CanvasCommunicationChannelTrigger(BaseTrigger):
    """Poll a user's channels until one reaches ``target_state``; fire success, error or timeout.

    Made by :class:`~airflow_provider_canvas.sensors.communication_channels.CanvasCommunicationChannelSensor`
    when it defers; the arguments are the sensor's, already rendered and checked.

    :param user_id: Canvas user id, ``self`` or a prefixed id such as ``sis_user_id:S1``.
    :param target_state: ``active``, ``unconfirmed``, ``present`` or ``absent``.
    :param channel_type: with ``address``, the channel's type.
    :param address: with ``channel_type``, the channel's address (matched case-insensitively).
    :param channel_id: or the channel's id.
    :param canvas_conn_id: the ``canvas`` connection, read through
        :class:`~airflow_provider_canvas.hooks.canvas_async.CanvasAsyncHook`.
    :param poke_interval: seconds between polls.
    :param timeout_at: Unix time after which the trigger gives up with a ``timeout`` event (absolute,
        so that a restarted triggerer keeps the original deadline); None waits for ever.

    :Canvas API: every poll, `List user communication channels
        <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.index>`__
        (``GET /api/v1/users/:user_id/communication_channels``)
    """

    def __init__(
        self,
        *,
        user_id: int | str,
        target_state: str,
        channel_type: str | None = None,
        address: str | None = None,
        channel_id: int | str | None = None,
        canvas_conn_id: str = DEFAULT_CONN_ID,
        poke_interval: float = 60.0,
        timeout_at: float | None = None,
    ) -> None:
        super().__init__()
        self.user_id = user_id
        self.target_state = target_state
        self.channel_type = channel_type
        self.address = address
        self.channel_id = int(channel_id) if channel_id is not None else None  # Canvas ids are JSON ints
        self.canvas_conn_id = canvas_conn_id
        self.poke_interval = float(poke_interval)
        self.timeout_at = timeout_at

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and JSON-plain arguments the triggerer rebuilds this trigger from.

        :return: ``(classpath, kwargs)``.
        """
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "user_id": self.user_id,
                "target_state": self.target_state,
                "channel_type": self.channel_type,
                "address": self.address,
                "channel_id": self.channel_id,
                "canvas_conn_id": self.canvas_conn_id,
                "poke_interval": self.poke_interval,
                "timeout_at": self.timeout_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until done, then fire one event and stop.

        :return: one ``TriggerEvent``: ``{"status": "success", "channel": ..., "polls": n}`` (the channel
            without its address, which is personal data and would be logged; None for ``absent``),
            ``{"status": "timeout", "last_state": ..., "polls": n}``, or ``{"status": "error",
            "error_type": ..., "summary": ..., "messages": [...], "status_code": ..., "polls": n}``.
        """
        hook = CanvasAsyncHook(canvas_conn_id=self.canvas_conn_id)
        polls = 0
        while True:
            polls += 1
            try:
                channels = await hook.alist_communication_channels(self.user_id)
                done, channel = match_target_state(
                    channels,
                    target_state=self.target_state,
                    channel_id=self.channel_id,
                    channel_type=self.channel_type,
                    address=self.address,
                )
            except (CanvasError, ValueError) as error:
                yield TriggerEvent(
                    {
                        "status": "error",
                        "error_type": type(error).__name__,
                        "summary": getattr(error, "summary", str(error)),
                        "messages": list(getattr(error, "messages", [])),
                        "status_code": getattr(error, "status_code", None),
                        "polls": polls,
                    }
                )
                return
            if done:
                # The triggerer logs every event at INFO, and an address is personal data: the event
                # carries the channel without it, and the sensor restores it on the worker.
                found = {k: v for k, v in channel.items() if k != "address"} if channel else None
                yield TriggerEvent({"status": "success", "channel": found, "polls": polls})
                return
            now = time.time()
            if self.timeout_at is not None and now + 0.001 >= self.timeout_at:
                last_state = channel.get("workflow_state") if channel else "absent"
                yield TriggerEvent({"status": "timeout", "last_state": last_state, "polls": polls})
                return
            wait = (
                self.poke_interval
                if self.timeout_at is None
                else min(self.poke_interval, self.timeout_at - now)
            )
            self.log.debug(
                "Channel not %s yet (poll %d); next poll in %.1fs.", self.target_state, polls, wait
            )
            await asyncio.sleep(wait)
