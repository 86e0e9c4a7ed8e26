"""Carrying a sync out through the hook: list, plan, guard, then write, users concurrently.

Each user's writes run in order inside one unit of work (creates, then the retires
:func:`~airflow_provider_canvas.contact_sync.plan.settle_deletes` allows), while many users run at once
under the hook's throttle governor, so the order costs no throughput. The run stops submitting work at
once when a failure would repeat for every item (the token is refused, Canvas is unreachable or keeps
failing, or Canvas ignored ``skip_confirmation``); what is in flight finishes and is reported.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_canvas.contact_sync.desired import DesiredState
from airflow_provider_canvas.contact_sync.options import SyncOptions
from airflow_provider_canvas.contact_sync.plan import (
    Plan,
    Planner,
    UserPlan,
    delete_guard,
    predicted_state,
    settle_deletes,
)
from airflow_provider_canvas.contact_sync.report import Failure, Report, UserOutcome
from airflow_provider_canvas.exceptions import (
    CanvasAuthenticationError,
    CanvasConnectionError,
    CanvasDuplicateChannelError,
    CanvasError,
    CanvasInputError,
    CanvasNotFoundError,
    CanvasPermissionError,
    CanvasRateLimitError,
    CanvasServerError,
    CanvasTimeoutError,
    CanvasTLSError,
)
from airflow_provider_canvas.wire.channels import address_key, find_channel

if TYPE_CHECKING:
    from airflow_provider_canvas.hooks.canvas import CanvasHook

__all__ = ["FAILURE_STREAK", "SyncResult", "run_sync"]

# Failures a later attempt can fix (so the task fails with Airflow's retries on): throttling, 5xx, network.
RETRYABLE = (CanvasRateLimitError, CanvasServerError, CanvasTimeoutError)
# Items that failed one after another, each after all of its own retries, with no success in between:
# Canvas is failing as a whole, and going on would take hours of retries for nothing.
FAILURE_STREAK = 20


def is_systemic(error: CanvasError) -> bool:
    """Would every later request fail the same way? A refused token or permission, TLS, an unreachable host.

    A timeout is not: one slow request says little about the next (a streak of them stops the run).
    """
    if isinstance(error, CanvasConnectionError):
        return not isinstance(error, CanvasTimeoutError)
    return isinstance(error, (CanvasAuthenticationError, CanvasPermissionError))


def is_retryable(error: Exception) -> bool:
    if isinstance(error, CanvasConnectionError):
        return not isinstance(error, CanvasTLSError)
    return isinstance(error, RETRYABLE)


class _Log(Protocol):
    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...
    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...


@dataclass
class SyncResult:
    """The report (XCom), the users worth a plan-file line, and how the task should end."""

    report: Report
    outcomes: list[UserOutcome]
    planned_only: bool  # the writes were not carried out (dry run, or blocked by a guard)
    failure: str | None = None  # the task fails with this message
    retryable: bool = False  # ...and Airflow's retries may fix it
    warning: str | None = None  # the task succeeds, but says this


@dataclass
class _Stop:
    """Set once, by the first worker that meets a failure every other item would meet too."""

    event: threading.Event = field(default_factory=threading.Event)
    cause: str | None = None
    retryable: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _streak: int = 0

    def __bool__(self) -> bool:
        return self.event.is_set()

    def trip(self, cause: str, *, retryable: bool) -> None:
        with self._lock:
            if not self.event.is_set():
                self.cause, self.retryable = cause, retryable
                self.event.set()

    def note(self, error: CanvasError | None) -> None:
        """Feed every finished request's fate: a systemic error, or a streak of failures, trips the stop."""
        if error is None:
            with self._lock:
                self._streak = 0
            return
        if is_systemic(error):
            self.trip(_systemic_cause(error), retryable=is_retryable(error))
            return
        if isinstance(error, RETRYABLE):
            with self._lock:
                self._streak += 1
                streak = self._streak
            if streak >= FAILURE_STREAK:
                self.trip(
                    f"Canvas failed {streak} items in a row, each after all of its retries (last: {error})",
                    retryable=True,
                )
        # Per-item refusals (400, 404) say nothing about Canvas as a whole.


def _systemic_cause(error: CanvasError) -> str:
    if isinstance(error, CanvasAuthenticationError):
        return f"Canvas refused the access token ({'; '.join(error.messages) or error.status_code})"
    if isinstance(error, CanvasPermissionError):
        return f"the token's user may not do this ({'; '.join(error.messages) or error.status_code})"
    if isinstance(error, CanvasTLSError):
        return f"the TLS connection to Canvas failed ({error.summary.rstrip('.')})"
    return f"Canvas could not be reached ({error.summary.rstrip('.')})"


def _unexpected(error: Exception) -> CanvasError:
    """An exception the hook does not type: reported by class only (its text could hold anything)."""
    return CanvasError(f"Unexpected {type(error).__name__} (a bug, or an answer nobody foresaw).")


def _failure(action: str, error: Exception, address: str | None = None) -> Failure:
    if isinstance(error, CanvasError):
        message = "; ".join(error.messages) or error.summary
        status = error.status_code
    else:
        message, status = str(error), None
    return Failure(
        action=action,
        error_type=type(error).__name__,
        status_code=status,
        message=message,
        retryable=is_retryable(error),
        address=address,
    )


class _Run:
    def __init__(
        self, hook: CanvasHook, options: SyncOptions, max_concurrency: int | None, log: _Log
    ) -> None:
        self.hook, self.options, self.max_concurrency, self.log = hook, options, max_concurrency, log
        self.stop = _Stop()
        self.verdict: str | None = None  # the first create's workflow_state, with skip_confirmation

    # -- listing ----------------------------------------------------------------------------------------

    def _fetch(self, ref: str) -> list[dict] | Exception | None:
        if self.stop:
            return None
        try:
            channels = self.hook.list_communication_channels(ref)
        except CanvasError as error:
            self.stop.note(error if not isinstance(error, CanvasNotFoundError) else None)
            return error
        except ValueError as error:
            return CanvasInputError(str(error))
        except Exception as error:  # a bug or an answer nobody foresaw: one user's failure, not the run's
            return _unexpected(error)
        self.stop.note(None)
        return channels

    def list_users(self, desired: DesiredState) -> tuple[Plan, list[UserOutcome]]:
        planner = Planner(self.options)
        unlisted: list[UserOutcome] = []
        done: set[str] = set()
        refs = (ref for ref in desired.users if not self.stop)
        for ref, result in self.hook.bulk_map(
            self._fetch, refs, max_concurrency=self.max_concurrency, label="list channels"
        ):
            wanted = desired.users[ref]
            done.add(ref)
            if isinstance(result, list):
                planner.add(ref, wanted, result)
                continue
            line = min(w.line for w in wanted.values())
            outcome = UserOutcome(UserPlan([ref], line))
            if isinstance(result, CanvasNotFoundError):
                outcome.missing_user = True
                outcome.skipped = [w.address for w in wanted.values()]
                if self.options.on_missing_user == "fail":
                    outcome.failed.append(_failure("list", result))
            elif result is None:
                outcome.not_attempted = [("list", w.address) for w in wanted.values()]
            else:
                assert isinstance(result, Exception)
                outcome.failed.append(_failure("list", result))
                outcome.not_attempted = [("list", w.address) for w in wanted.values()]
            unlisted.append(outcome)
        for ref, wanted in desired.users.items():
            if ref not in done:  # never handed to a worker: the run stopped first
                outcome = UserOutcome(UserPlan([ref], min(w.line for w in wanted.values())))
                outcome.not_attempted = [("list", w.address) for w in wanted.values()]
                unlisted.append(outcome)
        return planner.finish(), unlisted

    # -- writing ----------------------------------------------------------------------------------------

    def _state_of(self, user: UserPlan, address: str) -> str | None:
        """The state of a channel a create found already there (someone else made it, or a race)."""
        channels = self.hook.list_communication_channels(user.target)
        found = find_channel(channels, self.options.channel_type, address)
        return str(found.get("workflow_state")) if found else None

    def _create(self, user: UserPlan, address: str, outcome: UserOutcome, states: dict[str, str]) -> bool:
        """One create; returns False when it failed. Records the state Canvas answered with."""
        options = self.options
        try:
            channel = self.hook.create_communication_channel(
                user.target,
                channel_type=options.channel_type,
                address=address,
                skip_confirmation=options.skip_confirmation,
            )
        except CanvasDuplicateChannelError as error:
            try:
                state = self._state_of(user, address)
            except CanvasError as listing_error:
                self.stop.note(listing_error)
                outcome.failed.append(_failure("create", listing_error, address))
                return False
            if state is None:  # "already exists" but not listed: nothing to lean on
                outcome.failed.append(_failure("create", error, address))
                return False
            outcome.existed += 1
            states[address_key(address)] = state
            self.stop.note(None)
            return True
        except CanvasError as error:
            self.stop.note(error)
            outcome.failed.append(_failure("create", error, address))
            return False
        except ValueError as error:
            outcome.failed.append(_failure("create", CanvasInputError(str(error)), address))
            return False
        except Exception as error:
            outcome.failed.append(_failure("create", _unexpected(error), address))
            return False
        self.stop.note(None)
        state = str(channel.get("workflow_state"))
        owner = channel.get("user_id")
        if user.canvas_user_id is None and isinstance(owner, int) and not isinstance(owner, bool):
            user.canvas_user_id = owner
        outcome.created.append((address, state))
        states[address_key(address)] = state
        if options.skip_confirmation and self.verdict is None:
            self.verdict = state
            if state != "active" and options.on_unconfirmed == "fail":
                self.stop.trip(
                    "Canvas created the first new address as 'unconfirmed' although skip_confirmation=True: "
                    "the token's user may not skip confirmation, so Canvas has sent that address a "
                    "confirmation message. Nothing else was written",
                    retryable=False,
                )
        return True

    def _retire(self, user: UserPlan, channel: Any, outcome: UserOutcome) -> None:
        try:
            if channel.id is not None:
                self.hook.delete_communication_channel(user.target, channel.id)
            else:
                self.hook.delete_communication_channel(
                    user.target, channel_type=self.options.channel_type, address=channel.address
                )
        except CanvasNotFoundError as error:
            self.stop.note(None)
            if error.ambiguous_retry:  # an earlier attempt of this very request retired it
                outcome.retired.append(channel.address)
            else:  # retired by someone else meanwhile: the end state is already right
                outcome.already_gone += 1
            return
        except CanvasError as error:
            self.stop.note(error)
            outcome.failed.append(_failure("delete", error, channel.address))
            return
        except ValueError as error:
            outcome.failed.append(_failure("delete", CanvasInputError(str(error)), channel.address))
            return
        except Exception as error:
            outcome.failed.append(_failure("delete", _unexpected(error), channel.address))
            return
        self.stop.note(None)
        outcome.retired.append(channel.address)

    def apply_user(self, user: UserPlan) -> UserOutcome:
        """A user's writes in a safe order: every create first; retires only as settle_deletes allows."""
        outcome = UserOutcome(user)
        states: dict[str, str] = {address_key(c.address): c.workflow_state for c in user.keep}
        failed_creates = 0
        for wanted in user.create:
            if self.stop:
                outcome.not_attempted.append(("create", wanted.address))
            elif not self._create(user, wanted.address, outcome, states):
                failed_creates += 1
        if self.stop:
            outcome.not_attempted += [("delete", c.address) for c in user.delete]
            return outcome
        new = {address_key(w.address) for w in user.create}
        created = {key: state for key, state in states.items() if key in new}
        go, outcome.held = settle_deletes(user, created, failed_creates, self.options.channel_type)
        for channel in go:
            if self.stop:
                outcome.not_attempted.append(("delete", channel.address))
            else:
                self._retire(user, channel, outcome)
        return outcome

    def apply(self, users: list[UserPlan]) -> list[UserOutcome]:
        outcomes: list[UserOutcome] = []
        pending = [user for user in users if user.writes]
        if self.options.skip_confirmation and self.options.on_unconfirmed == "fail":
            # The first create runs alone: if Canvas ignores skip_confirmation for this token, one student
            # gets a confirmation message, not every student.
            while pending and self.verdict is None and not self.stop:
                probe = next((user for user in pending if user.create), None)
                if probe is None:
                    break
                pending.remove(probe)
                probing = self.hook.bulk_map(
                    self.apply_user,
                    [probe],
                    max_concurrency=1,
                    label="first create (skip_confirmation check)",
                )
                outcomes += [outcome for _, outcome in probing]
        started: set[int] = set()

        def feed() -> Iterator[UserPlan]:
            for user in pending:
                if self.stop:
                    return
                started.add(id(user))
                yield user

        for _, outcome in self.hook.bulk_map(
            self.apply_user, feed(), max_concurrency=self.max_concurrency, label="apply changes"
        ):
            outcomes.append(outcome)
        for user in pending:
            if id(user) not in started:
                outcome = UserOutcome(user)
                outcome.not_attempted = [("create", w.address) for w in user.create] + [
                    ("delete", c.address) for c in user.delete
                ]
                outcomes.append(outcome)
        return outcomes

    def predict(self, user: UserPlan) -> UserOutcome:
        """A dry run's outcome: the writes as they would be tried, holds as they would be decided."""
        state = predicted_state(self.options)
        outcome = UserOutcome(user, created=[(w.address, state) for w in user.create])
        go, outcome.held = settle_deletes(
            user, {address_key(w.address): state for w in user.create}, 0, self.options.channel_type
        )
        outcome.retired = [c.address for c in go]
        return outcome


def _option_summary(options: SyncOptions) -> dict[str, Any]:
    return {
        "mode": options.mode,
        "channel_type": options.channel_type,
        "manage": options.scope.describe() if options.scope else None,
        "dry_run": options.dry_run,
    }


def run_sync(
    hook: CanvasHook,
    options: SyncOptions,
    desired: DesiredState,
    *,
    max_concurrency: int | None = None,
    log: _Log,
) -> SyncResult:
    """Plan and (unless a dry run or a guard says no) carry out the sync; never raises for Canvas's answers.

    Raises only for what is wrong before any request (a bad ``max_concurrency``); every answer of Canvas,
    good or bad, ends up in the result.
    """
    report = Report(_option_summary(options), users=len(desired.users))
    run = _Run(hook, options, max_concurrency, log)
    sent_before = hook.requests_sent
    if options.mirror and not desired.users:
        report.blocked_by.append("empty_desired")
        message = "desired is empty and mode is 'mirror': that would retire every managed address"
        return _finish(run, report, [], sent_before, planned_only=True, blocked=[message])

    plan, unlisted = run.list_users(desired)
    report.set_plan(plan)
    for outcome in unlisted:
        report.add(outcome)
    log.info(
        "Contact sync plan: %d to create, %d to retire, %d unchanged, %d out of scope; %d user(s) not in "
        "Canvas, %d listing(s) failed.",
        plan.to_create,
        plan.to_delete,
        plan.unchanged,
        plan.out_of_scope,
        report.counts["missing_users"],
        sum(1 for o in unlisted if o.failed and not o.missing_user),
    )
    if run.stop:
        return _finish(run, report, unlisted, sent_before, planned_only=True)

    blocked = []
    guard = delete_guard(plan, options.max_deletes)
    if guard:
        report.blocked_by.append("max_deletes")
        blocked.append(guard)
    allowed = options.max_failures.allowed(_items(desired, plan))
    if options.dry_run and report.failed > allowed:
        report.blocked_by.append("max_failures")  # the real run would fail with these already
    if options.dry_run or blocked:
        outcomes = unlisted + [run.predict(user) for user in plan.users]
        for outcome in outcomes[len(unlisted) :]:
            report.add(outcome)
        return _finish(run, report, outcomes, sent_before, planned_only=True, blocked=blocked)

    written = run.apply(plan.users)
    for outcome in written:
        report.add(outcome)
    return _finish(run, report, unlisted + written, sent_before, planned_only=False, allowed=allowed)


def _items(desired: DesiredState, plan: Plan) -> int:
    """What ``max_failures`` as a fraction is a fraction of: every listing and every planned write."""
    return len(desired.users) + plan.to_create + plan.to_delete


def _finish(
    run: _Run,
    report: Report,
    outcomes: list[UserOutcome],
    sent_before: int,
    *,
    planned_only: bool,
    blocked: list[str] | None = None,
    allowed: int = 0,
) -> SyncResult:
    report.requests = run.hook.requests_sent - sent_before
    report.stopped = run.stop.cause
    changed = sorted((outcome for outcome in outcomes if outcome.changed), key=lambda o: o.plan.line)
    result = SyncResult(report, changed, planned_only)
    counts = report.counts
    done = f"{counts['created']} created, {counts['deleted']} retired"
    if run.stop:
        result.retryable = run.stop.retryable
        result.failure = (
            f"Contact sync stopped after {report.requests} request(s): {run.stop.cause}. Done before it "
            f"stopped: {done}; {counts['not_attempted']} item(s) not attempted. "
            + (
                "This looks temporary: Airflow's retry or a re-run picks up where it stopped."
                if run.stop.retryable
                else "Fix the cause, then re-run: the sync picks up where it stopped."
            )
        )
    elif blocked and not run.options.dry_run:
        result.failure = f"Contact sync blocked before any write: {'; '.join(blocked)}. Nothing was changed."
    elif report.failed > allowed and not planned_only:
        failures = [f for o in outcomes for f in o.failed]
        result.retryable = all(f.retryable for f in failures)
        first = "; ".join(
            f"{f['action']} for user {f['user']}: {f['message'].rstrip('.')}" for f in report.failures[:3]
        )
        result.failure = (
            f"Contact sync: {report.failed} item(s) failed, more than max_failures allows ({allowed}); "
            f"{done}, {counts['held']} held. First: {first}. "
            + (
                "All of them look temporary (throttling, server errors, network): Airflow's retry or a "
                "re-run does the rest."
                if result.retryable
                else "Fix their cause (see each message), then re-run: done items are not repeated."
            )
        )
    elif report.failed and not planned_only:
        result.warning = (
            f"Contact sync: {report.failed} item(s) failed, within max_failures ({allowed}); see the report."
        )
    if counts["created_unconfirmed"] and run.options.skip_confirmation and not planned_only:
        note = (
            f"{counts['created_unconfirmed']} new address(es) came back 'unconfirmed' although "
            "skip_confirmation=True: Canvas sent them confirmation messages."
        )
        result.warning = f"{result.warning} {note}" if result.warning else note
    return result
