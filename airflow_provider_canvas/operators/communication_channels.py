"""Operators for Canvas user communication channels: thin glue between DAGs and :class:`CanvasHook`.

Each operator renders its template fields, checks what can be checked locally, makes one hook call
and returns JSON-plain data to XCom. All transport rules (retries, throttling, errors) live in the hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_canvas._compat import BaseOperator, mask_secret
from airflow_provider_canvas.links.canvas import CanvasUserLink
from airflow_provider_canvas.wire.channels import (
    CHANNEL_TYPES,
    LIVE_STATES,
    find_channel,
    validate_channel_type,
)
from airflow_provider_canvas.wire.config import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow_provider_canvas._compat import Context
    from airflow_provider_canvas.hooks.canvas import CanvasHook

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
    text = str(user_id)
    return "<redacted user reference>" if "@" in text else text


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


class _CanvasChannelOperator(BaseOperator):
    """Shared glue: the hook, the extra link, and the numeric user id the link needs."""

    operator_extra_links = (CanvasUserLink(),)
    ui_color = "#e4f0e8"

    def __init__(self, *, canvas_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.canvas_conn_id = canvas_conn_id
        self.canvas_user_id: int | None = None

    @cached_property
    def hook(self) -> CanvasHook:
        from airflow_provider_canvas.hooks.canvas import CanvasHook

        return CanvasHook(canvas_conn_id=self.canvas_conn_id)

    def _remember_user(self, channel: dict | None) -> None:
        if channel and isinstance(channel.get("user_id"), int):
            self.canvas_user_id = channel["user_id"]


class CanvasListCommunicationChannelsOperator(_CanvasChannelOperator):
    """List a user's communication channels (XCom: a list of Canvas channel dicts).

    :param user_id: Canvas user id, ``self``, or a prefixed id such as ``sis_user_id:ABC`` (templated).
    :param workflow_state: keep only these states, ``unconfirmed`` and/or ``active`` (templated).
    :param channel_type: keep only these types, e.g. ``email`` or ``["email", "sms"]`` (templated).
    :param canvas_conn_id: the ``canvas`` connection.
    """

    template_fields: Sequence[str] = ("user_id", "workflow_state", "channel_type")

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

    template_fields: Sequence[str] = ("user_id", "address", "token")

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

    template_fields: Sequence[str] = ("user_id", "channel_id", "channel_type", "address")

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


class CanvasDeletePushTokenOperator(BaseOperator):
    """Remove a device's push endpoint for the connection's own user (XCom: ``{"success": true}``).

    :param push_token: the device's push registration token (templated, masked in logs and the UI).
    """

    template_fields: Sequence[str] = ("push_token",)

    def __init__(self, *, push_token: str, canvas_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.push_token = push_token
        self.canvas_conn_id = canvas_conn_id

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        super().render_template_fields(context, jinja_env)
        if isinstance(self.push_token, str) and self.push_token:
            mask_secret(self.push_token)

    def execute(self, context: Context) -> dict:
        from airflow_provider_canvas.hooks.canvas import CanvasHook

        return CanvasHook(canvas_conn_id=self.canvas_conn_id).delete_push_token(self.push_token)


class CanvasSyncCommunicationChannelsOperator(BaseOperator):
    """Make Canvas match a desired list of contacts, for thousands of users at once.

    Plans first (lists every desired user's channels concurrently under the throttle governor, diffs
    case-insensitively as Canvas matches), checks the plan, then applies creates and deletes
    concurrently. Re-running converges to the same end state without duplicates. Per-item failures are
    collected, everything else is still applied, and the task fails at the end naming what was not done.

    :param desired: user id -> addresses, as a mapping; a list of ``{"user_id", "address"}`` rows (e.g. an
        upstream XCom); or the path/URL of a ``.csv`` (header ``user_id,address``) or ``.jsonl`` file,
        local or any Airflow ObjectStoragePath URL (templated).
    :param channel_type: ``email`` (default) or ``sms``.
    :param mode: ``add_only`` creates what is missing; ``mirror`` also deletes channels of this type that
        ``desired`` does not list for its users (users absent from ``desired`` are never touched).
    :param skip_confirmation: create channels active, without a confirmation message (admins only).
    :param dry_run: plan and report without writing.
    :param max_deletes: the most deletes a plan may contain: an int is a count, a float from 0 to 1 a
        fraction of the current channels of this type (default 0.1). A bigger plan aborts before writing.
    :param max_concurrency: cap on concurrent requests (default: the connection's ``max_concurrency``).
    :param plan_path: optional ObjectStoragePath URL or local path (templated) to write the full plan and
        failures to as JSON lines, for plans too large for XCom.
    """

    template_fields: Sequence[str] = ("desired", "plan_path")
    ui_color = "#e4f0e8"

    def __init__(
        self,
        *,
        desired: Any,
        channel_type: str = "email",
        mode: str = "add_only",
        skip_confirmation: bool = False,
        dry_run: bool = False,
        max_deletes: int | float = 0.1,
        max_concurrency: int | None = None,
        plan_path: str | None = None,
        canvas_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in SYNC_MODES:
            raise ValueError(f"mode must be 'add_only' or 'mirror'; got {mode!r}.")
        if validate_channel_type(channel_type) == "push":
            raise ValueError(
                "channel_type must be 'email' or 'sms' for a sync: push channels have no address."
            )
        if (
            isinstance(max_deletes, bool)
            or not isinstance(max_deletes, (int, float))
            or max_deletes < 0
            or (isinstance(max_deletes, float) and max_deletes > 1)
        ):
            raise ValueError(
                f"max_deletes must be a count (int >= 0) or a fraction (float 0 to 1); got {max_deletes!r}."
            )
        self.desired = desired
        self.channel_type = validate_channel_type(channel_type)
        self.mode = mode
        self.skip_confirmation = skip_confirmation
        # Not ``self.dry_run``: BaseOperator.dry_run() is a method Airflow's CLI calls.
        self.plan_only = dry_run
        self.max_deletes = max_deletes
        self.max_concurrency = max_concurrency
        self.plan_path = plan_path
        self.canvas_conn_id = canvas_conn_id

    def execute(self, context: Context) -> dict:
        from airflow_provider_canvas._compat import AirflowFailException
        from airflow_provider_canvas.exceptions import (
            CanvasDuplicateChannelError,
            CanvasError,
            CanvasNotFoundError,
        )
        from airflow_provider_canvas.operators._sync import Planner, check_deletes, load_desired

        desired = load_desired(self.desired, self.channel_type)
        if self.mode == "mirror" and not desired.users:
            raise AirflowFailException(
                "desired is empty and mode is 'mirror': refusing to delete every channel. Check the input."
            )
        self.log.info(
            "Sync %s (%s): %d users, %d addresses (%d duplicate rows collapsed).",
            self.channel_type,
            self.mode,
            len(desired.users),
            desired.addresses,
            desired.duplicates,
        )
        from airflow_provider_canvas.hooks.canvas import CanvasHook

        hook = CanvasHook(canvas_conn_id=self.canvas_conn_id)
        planner = Planner(self.channel_type, mirror=self.mode == "mirror")
        failures: list[dict[str, Any]] = []
        for user, result in hook.iter_communication_channels_for_users(
            desired.users, max_concurrency=self.max_concurrency
        ):
            wanted = desired.users[str(user)]
            if isinstance(result, CanvasError):
                failures.extend(_failure(str(user), a, "list", result) for a in wanted.values())
            else:
                planner.add(str(user), wanted, result)
        plan = planner.finish()
        plan.failures = failures
        try:
            check_deletes(len(plan.deletes), plan.current, self.max_deletes)
        except ValueError as error:
            raise AirflowFailException(str(error)) from None
        self.log.info(
            "Plan: %d to create, %d to delete, %d unchanged, %d users could not be listed.",
            len(plan.creates),
            len(plan.deletes),
            plan.unchanged,
            len({f["user_id"] for f in plan.failures}),
        )
        report: dict[str, Any] = {
            "unchanged": plan.unchanged,
            "created": 0,
            "deleted": 0,
            "failed": 0,
            "failures": plan.failures,
            "dry_run": self.plan_only,
            "mode": self.mode,
            "channel_type": self.channel_type,
            "users": len(desired.users),
        }
        if self.plan_only:
            report["to_create"], report["to_delete"] = len(plan.creates), len(plan.deletes)
            report["failed"] = len(plan.failures)
            self._write_plan(plan, report)
            return report
        for change, outcome in hook.apply_communication_channel_changes(
            [*plan.creates, *plan.deletes],
            skip_confirmation=self.skip_confirmation,
            max_concurrency=self.max_concurrency,
        ):
            if isinstance(outcome, (CanvasDuplicateChannelError, CanvasNotFoundError)):
                report["unchanged"] += 1  # someone else got there first: the end state is already right
            elif isinstance(outcome, CanvasError):
                report["failures"].append(_failure(change.user_id, change.address, change.action, outcome))
            else:
                report["created" if change.action == "create" else "deleted"] += 1
        report["failed"] = len(report["failures"])
        self._write_plan(plan, report)
        self.log.info(
            "Sync done: %d created, %d deleted, %d unchanged, %d failed.",
            report["created"],
            report["deleted"],
            report["unchanged"],
            report["failed"],
        )
        if report["failed"]:
            context["ti"].xcom_push(key="return_value", value=report)
            raise AirflowFailException(_failure_summary(report))
        return report

    def _write_plan(self, plan: Any, report: dict[str, Any]) -> None:
        if not self.plan_path:
            return
        from airflow_provider_canvas.operators._sync import write_plan

        write_plan(self.plan_path, plan, report)
        report["plan_path"] = str(self.plan_path)


SYNC_MODES = ("add_only", "mirror")


def _failure(user_id: str, address: str, action: str, error: Exception) -> dict[str, Any]:
    messages = getattr(error, "messages", None) or [getattr(error, "summary", str(error))]
    return {
        "user_id": user_id,
        "address": address,
        "action": action,
        "status_code": getattr(error, "status_code", None),
        "message": "; ".join(messages),
    }


def _failure_summary(report: dict[str, Any]) -> str:
    """The task's failure message: counts and the first few items, without addresses (personal data)."""
    shown = [
        f"{f['action']} for user {describe_user(f['user_id'])}: {f['message']}"
        for f in report["failures"][:5]
    ]
    return (
        f"Sync finished with {report['failed']} item(s) not done ({report['created']} created, "
        f"{report['deleted']} deleted, {report['unchanged']} unchanged). Re-running is safe. "
        f"First: {' | '.join(shown)}. The XCom report lists every item with its address."
    )
