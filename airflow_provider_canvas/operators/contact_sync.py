"""``CanvasSyncCommunicationChannelsOperator``: the nightly contact sync, as Airflow glue only.

Rendering, checking the arguments, opening files and URLs, XCom, asset events and how the task ends live
here; what the sync decides and does lives in :mod:`airflow_provider_canvas.contact_sync`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_canvas._compat import AirflowException, AirflowFailException
from airflow_provider_canvas.contact_sync.options import (
    MODES,
    ON_MISSING_USER,
    ON_UNCONFIRMED,
    SyncOptions,
    is_template,
    parse_bool,
    parse_choice,
    parse_limit,
    parse_scope,
    parse_sync_channel_type,
    parse_user_id_prefix,
)
from airflow_provider_canvas.exceptions import plural
from airflow_provider_canvas.operators.base import CanvasBaseOperator

if TYPE_CHECKING:
    from airflow_provider_canvas._compat import Context
    from airflow_provider_canvas.contact_sync.engine import SyncResult

__all__ = ["CanvasSyncCommunicationChannelsOperator", "ContactSyncInputError"]


class ContactSyncInputError(AirflowFailException, ValueError):
    """The sync's arguments or input rows are wrong: fix them; retrying the task cannot help."""


def _read_url(url: str) -> str:
    from airflow.sdk import ObjectStoragePath

    with ObjectStoragePath(url).open("r", encoding="utf-8") as handle:
        return str(handle.read())


def _write_lines(path: str, lines: Iterable[str]) -> None:
    """Stream the plan file to a local path or any ObjectStoragePath URL, creating its folder."""
    if "://" in path:
        from airflow.sdk import ObjectStoragePath

        target = ObjectStoragePath(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line)
        return
    import os

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(lines)


class CanvasSyncCommunicationChannelsOperator(CanvasBaseOperator):
    """Make Canvas match a list of contacts for thousands of users, safely enough to run every night.

    Lists every desired user's channels concurrently under Canvas's throttle, plans per Canvas user,
    checks the plan against the guards, then writes: users concurrently, each user's creates before any of
    their retires, and never a user's last active channel until a replacement is active. Re-running
    converges; an item done by an earlier, interrupted run is not repeated. See docs/operators.md,
    "Running the sync at an institution", for recommended settings.

    Calls Canvas's communication channels API:
    `List <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.index>`__,
    `Create <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.create>`__,
    `Delete <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.destroy>`__.

    :param desired: the wanted contacts (templated): the path or URL of a ``.csv`` or ``.jsonl`` file, read
        where it lies (any Airflow ObjectStoragePath URL, e.g. ``s3://...``), so addresses never pass through
        XCom; or a list of rows (mappings); or a mapping of user id -> address or list of addresses.
    :param user_id_column: the column (CSV) or key (rows, JSON lines) holding the user; default ``user_id``.
    :param address_column: the column or key holding the address; default ``address``.
    :param user_id_prefix: e.g. ``"sis_user_id:"``: put in front of every id in the input that has no
        prefix of its own, numbers included (an SIS export's bare ids).
    :param channel_type: ``email`` (default) or ``sms``.
    :param mode: ``add_only`` (default) creates what is missing; ``mirror`` also retires addresses of this
        type that the input does not list for its users, within ``manage`` (templated).
    :param manage: which existing addresses the sync owns and may retire: a list of e-mail domains
        (``["uni.edu"]``: the domain and its subdomains, case-insensitive), a regular expression (text or
        compiled), or ``"all"``. Required by ``mirror``; others are counted ``out_of_scope`` (templated).
    :param skip_confirmation: create channels ``active`` without a confirmation message (admin tokens only).
        The first create runs alone to check that Canvas honoured it.
    :param on_unconfirmed: ``fail`` (default): if that first create comes back ``unconfirmed``, stop before
        any other write; ``continue``: go on, and report the count (templated).
    :param dry_run: plan and report, write nothing; never fails for a guard, reports it in ``blocked_by``
        (templated; ``"true"`` works).
    :param max_deletes: the most retires one run may do: a count (``5``) or a fraction of the managed
        channels (``0.05``, ``"5%"``); a fraction above 0 allows at least one. Default 0.1 (templated).
    :param max_failures: per-item failures tolerated, as a count or a fraction of the planned items
        (listings + creates + retires); at or under it the task succeeds with a warning. Default 0
        (templated).
    :param on_missing_user: ``fail`` (default) or ``skip`` a user that Canvas does not know (templated).
    :param max_concurrency: cap on concurrent requests; default the connection's ``max_concurrency``.
    :param plan_path: local path or ObjectStoragePath URL for the plan file (JSON lines: a summary, then one
        line per changed user with their created, retired, held and failed addresses) (templated).
    :param canvas_conn_id: the ``canvas`` connection (templated).
    :return: the report (XCom, also pushed when the task fails): counts, ``blocked_by``, ``stopped``,
        ``requests`` and at most 100 ``failures``; no addresses. With an Asset in ``outlets`` the counts
        also go into the asset event's ``extra``.
    """

    template_fields: Sequence[str] = (
        "desired",
        "plan_path",
        "mode",
        "dry_run",
        "max_deletes",
        "max_failures",
        "manage",
        "on_missing_user",
        "on_unconfirmed",
        "canvas_conn_id",
    )
    # ``dry_run`` is a templated argument here; BaseOperator's dry_run() method is never used by Airflow 3.
    dry_run: Any

    def __init__(
        self,
        *,
        desired: Any,
        channel_type: str = "email",
        mode: str = "add_only",
        manage: Any = None,
        skip_confirmation: bool = False,
        on_unconfirmed: str = "fail",
        dry_run: bool | str = False,
        max_deletes: int | float | str = 0.1,
        max_failures: int | float | str = 0,
        on_missing_user: str = "fail",
        user_id_column: str = "user_id",
        address_column: str = "address",
        user_id_prefix: str | None = None,
        max_concurrency: int | None = None,
        plan_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.desired = desired
        self.channel_type = parse_sync_channel_type(channel_type)
        self.mode = mode
        self.manage = manage
        self.skip_confirmation = parse_bool(skip_confirmation, "skip_confirmation")
        self.on_unconfirmed = on_unconfirmed
        self.dry_run = dry_run
        self.max_deletes = max_deletes
        self.max_failures = max_failures
        self.on_missing_user = on_missing_user
        for name, value in (("user_id_column", user_id_column), ("address_column", address_column)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must name a column; got {value!r}.")
        self.user_id_column = user_id_column.strip()
        self.address_column = address_column.strip()
        self.user_id_prefix = parse_user_id_prefix(user_id_prefix)
        self.max_concurrency = max_concurrency
        self.plan_path = plan_path
        self._check_untemplated()

    def _check_untemplated(self) -> None:
        """What is not a template is checked now, so a typo is a DAG import error, not a 2 a.m. failure."""
        checks = {
            "mode": lambda v: parse_choice(v, "mode", MODES),
            "dry_run": lambda v: parse_bool(v, "dry_run"),
            "max_deletes": lambda v: parse_limit(v, "max_deletes"),
            "max_failures": lambda v: parse_limit(v, "max_failures"),
            "manage": parse_scope,
            "on_missing_user": lambda v: parse_choice(v, "on_missing_user", ON_MISSING_USER),
            "on_unconfirmed": lambda v: parse_choice(v, "on_unconfirmed", ON_UNCONFIRMED),
        }
        if all(not is_template(getattr(self, name)) for name in checks):
            self._options()  # also the rules between them (mirror needs manage)
            return
        for name, check in checks.items():
            value = getattr(self, name)
            if not is_template(value):
                check(value)

    def _options(self) -> SyncOptions:
        return SyncOptions.parse(
            channel_type=self.channel_type,
            mode=self.mode,
            manage=self.manage,
            skip_confirmation=self.skip_confirmation,
            dry_run=self.dry_run,
            max_deletes=self.max_deletes,
            max_failures=self.max_failures,
            on_missing_user=self.on_missing_user,
            on_unconfirmed=self.on_unconfirmed,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_canvas.contact_sync.desired import load_desired
        from airflow_provider_canvas.contact_sync.engine import run_sync

        try:
            options = self._options()
            desired = load_desired(
                self.desired,
                options.channel_type,
                user_id_column=self.user_id_column,
                address_column=self.address_column,
                user_id_prefix=self.user_id_prefix,
                read_text=_read_url,
            )
        except ValueError as error:
            raise ContactSyncInputError(str(error)) from None
        self.log.info(
            "Contact sync of %s channels (%s%s%s): %s, %s from %s (%s collapsed).",
            options.channel_type,
            options.mode,
            f", manage {options.scope.describe()}" if options.scope else "",
            ", dry run" if options.dry_run else "",
            plural(len(desired.users), "user"),
            plural(desired.addresses, "address", "addresses"),
            desired.source,
            plural(desired.duplicates, "duplicate row"),
        )
        result = run_sync(self.hook, options, desired, max_concurrency=self.max_concurrency, log=self.log)
        report = result.report.as_dict()
        if self.plan_path:
            self._write_plan(result, report)
        self._log_result(report, result)
        self._annotate_assets(context, report)
        if result.failure:
            context["ti"].xcom_push(key="return_value", value=report)
            raise (AirflowException if result.retryable else AirflowFailException)(result.failure)
        return report

    def _write_plan(self, result: SyncResult, report: dict[str, Any]) -> None:
        from airflow_provider_canvas.contact_sync.report import plan_file_lines

        report["plan_path"] = str(self.plan_path)
        lines = plan_file_lines(report, result.outcomes, planned=result.planned_only)
        _write_lines(str(self.plan_path), lines)

    def _log_result(self, report: dict[str, Any], result: SyncResult) -> None:
        self.log.info(
            "Contact sync %s: %d created (%d active, %d unconfirmed), %d retired, %d unchanged, %d held, "
            "%d out of scope, %d missing user(s), %d failed, %d not attempted; %d request(s).%s",
            "planned (nothing written)" if result.planned_only else "done",
            report["created"],
            report["created_active"],
            report["created_unconfirmed"],
            report["deleted"],
            report["unchanged"],
            report["held"],
            report["out_of_scope"],
            report["missing_users"],
            report["failed"],
            report["not_attempted"],
            report["requests"],
            f" Blocked by: {', '.join(report['blocked_by'])}." if report["blocked_by"] else "",
        )
        if result.warning:
            self.log.warning("%s", result.warning)

    def _annotate_assets(self, context: Context, report: dict[str, Any]) -> None:
        """Counts (never addresses) on each outlet asset's event, so a downstream DAG can read them."""
        if not self.outlets:
            return
        from airflow.sdk import Asset

        from airflow_provider_canvas.contact_sync.report import COUNTS

        extra = {key: report[key] for key in (*COUNTS, "users", "dry_run", "mode", "channel_type")}
        events = context.get("outlet_events")
        for outlet in self.outlets:
            if isinstance(outlet, Asset) and events is not None:
                events[outlet].extra.update(extra)
