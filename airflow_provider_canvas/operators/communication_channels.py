"""Operators for Canvas user communication channels: thin glue between DAGs and :class:`CanvasHook`.

Each operator renders its template fields, checks what can be checked locally, makes one hook call
and returns JSON-plain data to XCom. All transport rules (retries, throttling, errors) live in the hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_canvas._compat import mask_secret
from airflow_provider_canvas.contact_sync.report import redact_user_ref
from airflow_provider_canvas.links.canvas import CanvasUserLink
from airflow_provider_canvas.operators.base import CanvasBaseOperator

# The sync moved to its own module (operators/contact_sync.py); this import path keeps working.
from airflow_provider_canvas.operators.contact_sync import CanvasSyncCommunicationChannelsOperator
from airflow_provider_canvas.wire.channels import (
    CHANNEL_TYPES,
    LIVE_STATES,
    find_channel,
    validate_channel_type,
)

if TYPE_CHECKING:
    from airflow_provider_canvas._compat import Context

__all__ = [
    "CanvasCreateCommunicationChannelOperator",
    "CanvasDeleteCommunicationChannelOperator",
    "CanvasDeletePushTokenOperator",
    "CanvasListCommunicationChannelsOperator",
    "CanvasSyncCommunicationChannelsOperator",
]

IF_EXISTS = ("skip", "fail")
LISTED_TYPES = (*CHANNEL_TYPES, "twitter", "slack")  # what Canvas can return, not what it can create


def describe_user(user_id: object) -> str:
    """A user reference fit for INFO logs: SIS login ids are often e-mail addresses (personal data)."""
    return redact_user_ref(str(user_id))


def _as_filter(
    value: str | Sequence[str] | None, field: str, allowed: Sequence[str]
) -> frozenset[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple, set, frozenset)) or not values:
        raise ValueError(f"{field} must be a string or a non-empty list of strings; got {value!r}.")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"{field} has unknown values {unknown!r}; use any of {', '.join(allowed)}.")
    return frozenset(values)


class _CanvasChannelOperator(CanvasBaseOperator):
    """The operators that act on one user: the extra link, and the numeric user id the link needs."""

    operator_extra_links = (CanvasUserLink(),)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.canvas_user_id: int | None = None

    def _remember_user(self, channel: dict | None) -> None:
        if channel and isinstance(channel.get("user_id"), int):
            self.canvas_user_id = channel["user_id"]


class CanvasListCommunicationChannelsOperator(_CanvasChannelOperator):
    """List a user's communication channels (XCom: a list of Canvas channel dicts).

    :param user_id: Canvas user id, ``self``, or a prefixed id such as ``sis_user_id:ABC`` (templated).
    :param workflow_state: keep only these states, ``unconfirmed`` and/or ``active`` (templated).
    :param channel_type: keep only these types, e.g. ``email`` or ``["email", "sms"]`` (templated).
    :param canvas_conn_id: the ``canvas`` connection (templated).
    """

    template_fields: Sequence[str] = (
        *CanvasBaseOperator.template_fields,
        "user_id",
        "workflow_state",
        "channel_type",
    )

    def __init__(
        self,
        *,
        user_id: int | str,
        workflow_state: str | Sequence[str] | None = None,
        channel_type: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.user_id = user_id
        self.workflow_state = workflow_state
        self.channel_type = channel_type

    def execute(self, context: Context) -> list[dict]:
        states = _as_filter(self.workflow_state, "workflow_state", sorted(LIVE_STATES))
        types = _as_filter(self.channel_type, "channel_type", LISTED_TYPES)
        channels = [
            channel
            for channel in self.hook.iter_communication_channels(self.user_id)
            if (states is None or channel.get("workflow_state") in states)
            and (types is None or channel.get("type") in types)
        ]
        if channels:
            self._remember_user(channels[0])
        self.log.info(
            "User %s: %d communication channel(s) match.", describe_user(self.user_id), len(channels)
        )
        return channels


class CanvasCreateCommunicationChannelOperator(_CanvasChannelOperator):
    """Create a communication channel; idempotent by default (XCom: the channel dict).

    Also pushes XCom ``outcome``: ``created`` or ``existing``, so a report can tell them apart.

    :param user_id: Canvas user id, ``self``, or a prefixed id (templated).
    :param channel_type: ``email`` (default), ``sms`` or ``push``.
    :param address: the e-mail address or SMS number (templated); not used for push.
    :param token: the device's push registration token, for ``push`` only (templated, masked).
    :param skip_confirmation: make the channel active without a confirmation message (admins only;
        Canvas silently ignores it for other users).
    :param if_exists: ``skip`` returns an existing unconfirmed/active channel with the same type and
        address (matched case-insensitively, as Canvas does); ``fail`` raises Canvas's duplicate error.
    """

    template_fields: Sequence[str] = (*CanvasBaseOperator.template_fields, "user_id", "address", "token")

    def __init__(
        self,
        *,
        user_id: int | str,
        channel_type: str = "email",
        address: str | None = None,
        token: str | None = None,
        skip_confirmation: bool = False,
        if_exists: str = "skip",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if if_exists not in IF_EXISTS:
            raise ValueError(f"if_exists must be 'skip' or 'fail'; got {if_exists!r}.")
        self.user_id = user_id
        self.channel_type = validate_channel_type(channel_type)
        self.address = address
        self.token = token
        self.skip_confirmation = skip_confirmation
        self.if_exists = if_exists

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        super().render_template_fields(context, jinja_env)
        if isinstance(self.token, str) and self.token:
            mask_secret(self.token)  # before the rendered fields are stored and shown in the UI

    def execute(self, context: Context) -> dict:
        from airflow_provider_canvas.exceptions import CanvasDuplicateChannelError

        outcome = "created"
        try:
            channel = self.hook.create_communication_channel(
                self.user_id,
                channel_type=self.channel_type,
                address=self.address,
                token=self.token,
                skip_confirmation=self.skip_confirmation,
            )
        except CanvasDuplicateChannelError:
            if self.if_exists == "fail" or self.address is None:
                raise
            existing = find_channel(
                self.hook.list_communication_channels(self.user_id), self.channel_type, self.address
            )
            if existing is None:
                raise
            channel, outcome = dict(existing), "existing"
        self._remember_user(channel)
        self.log.info(
            "User %s: %s channel %s is %s (%s).",
            describe_user(self.user_id),
            self.channel_type,
            channel.get("id"),
            channel.get("workflow_state"),
            outcome,
        )
        context["ti"].xcom_push(key="outcome", value=outcome)
        return channel


class CanvasDeleteCommunicationChannelOperator(_CanvasChannelOperator):
    """Retire a communication channel by id, or by type and address (XCom: the retired channel).

    :param user_id: Canvas user id, ``self``, or a prefixed id (templated).
    :param channel_id: the channel's id (templated); or give ``channel_type`` and ``address``.
    :param missing_ok: treat "no such channel" (404) as done: log it and return None.
    """

    template_fields: Sequence[str] = (
        *CanvasBaseOperator.template_fields,
        "user_id",
        "channel_id",
        "channel_type",
        "address",
    )

    def __init__(
        self,
        *,
        user_id: int | str,
        channel_id: int | str | None = None,
        channel_type: str | None = None,
        address: str | None = None,
        missing_ok: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.user_id = user_id
        self.channel_id = channel_id
        self.channel_type = channel_type
        self.address = address
        self.missing_ok = missing_ok
        self._check_target()

    def _check_target(self) -> None:
        by_id = self.channel_id is not None
        by_address = self.channel_type is not None or self.address is not None
        if by_id and by_address:
            raise ValueError(f"{self.task_id}: give either channel_id or channel_type + address, not both.")
        if not by_id and (self.channel_type is None or self.address is None):
            raise ValueError(
                f"{self.task_id}: say which channel to delete: "
                "give channel_id, or both channel_type and address."
            )

    def execute(self, context: Context) -> dict | None:
        from airflow_provider_canvas.exceptions import CanvasNotFoundError

        self._check_target()
        try:
            channel = self.hook.delete_communication_channel(
                self.user_id, self.channel_id, channel_type=self.channel_type, address=self.address
            )
        except CanvasNotFoundError:
            if not self.missing_ok:
                raise
            # Canvas answers 404 for an unknown user too, and missing_ok is about the channel: a mistyped
            # user id must still fail. Reading the user's first page raises CanvasNotFoundError for it.
            next(self.hook.iter_communication_channels(self.user_id), None)
            self.log.info(
                "User %s: no such channel; nothing to delete (missing_ok).", describe_user(self.user_id)
            )
            return None
        self._remember_user(channel)
        self.log.info("User %s: channel %s retired.", describe_user(self.user_id), channel.get("id"))
        return channel


class CanvasDeletePushTokenOperator(CanvasBaseOperator):
    """Remove a device's push endpoint for the connection's own user (XCom: ``{"success": true}``).

    :param push_token: the device's push registration token (templated, masked in logs and the UI).
    """

    template_fields: Sequence[str] = (*CanvasBaseOperator.template_fields, "push_token")

    def __init__(self, *, push_token: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.push_token = push_token

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        super().render_template_fields(context, jinja_env)
        if isinstance(self.push_token, str) and self.push_token:
            mask_secret(self.push_token)

    def execute(self, context: Context) -> dict:
        return self.hook.delete_push_token(self.push_token)
