"""What the sync did, in two forms: a bounded, address-free report for XCom, and the full plan file.

The XCom report has the same keys and about the same size for 50 users or 50,000: counts, the guards that
blocked, and the first 100 failures (``MAX_REPORTED_FAILURES``), with user references but no addresses
(XCom lives in the metadata database and shows in the UI). The plan file (JSON lines, written where the
DAG says) has one line per user the run changed or could not finish, with the addresses, so "this student
changed from X to Y" reads straight off it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_canvas.contact_sync.plan import Held, Plan, UserPlan

__all__ = [
    "COUNTS",
    "MAX_REPORTED_FAILURES",
    "Failure",
    "Report",
    "UserOutcome",
    "plan_file_lines",
    "redact_user_ref",
]

MAX_REPORTED_FAILURES = 100
MAX_MESSAGE_LENGTH = 200
MAX_REF_LENGTH = 80
COUNTS = (
    "unchanged",
    "created",
    "created_active",
    "created_unconfirmed",
    "deleted",
    "held",
    "out_of_scope",
    "missing_users",
    "failed",
    "not_attempted",
)


def redact_user_ref(ref: str) -> str:
    """A user reference fit for logs and XCom: SIS login ids are often e-mail addresses (personal data)."""
    if "@" in ref or "%40" in ref.lower():
        return "<redacted user reference>"
    return ref if len(ref) <= MAX_REF_LENGTH else ref[:MAX_REF_LENGTH] + "..."


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[: MAX_MESSAGE_LENGTH - 3] + "..."


@dataclass(frozen=True)
class Failure:
    """One item Canvas refused or could not be reached for."""

    action: str  # list, create or delete
    error_type: str
    status_code: int | None
    message: str
    retryable: bool
    address: str | None = None  # plan file only, never XCom


@dataclass
class UserOutcome:
    """What happened to one user's plan (for a dry run: what would happen)."""

    plan: UserPlan
    created: list[tuple[str, str]] = field(default_factory=list)  # (address, workflow_state)
    existed: int = 0  # a create found the address already there: unchanged
    retired: list[str] = field(default_factory=list)
    already_gone: int = 0  # a retire found the channel already retired by someone else: unchanged
    held: list[Held] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    not_attempted: list[tuple[str, str]] = field(default_factory=list)  # (action, address)
    missing_user: bool = False  # Canvas does not know the user: their addresses are skipped
    skipped: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Worth a line in the plan file: something was (or would be) done, held, or left undone."""
        return bool(
            self.created
            or self.retired
            or self.held
            or self.failed
            or self.not_attempted
            or self.missing_user
        )


@dataclass
class Report:
    """Counters for the XCom report, fed one user outcome at a time."""

    options: dict[str, Any]
    users: int = 0
    to_create: int = 0
    to_delete: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    failures: list[dict[str, Any]] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)
    stopped: str | None = None
    requests: int = 0

    def set_plan(self, plan: Plan) -> None:
        self.to_create, self.to_delete = plan.to_create, plan.to_delete
        self.counts["unchanged"] += plan.unchanged
        self.counts["out_of_scope"] += plan.out_of_scope

    def add(self, outcome: UserOutcome) -> None:
        counts = self.counts
        counts["created"] += len(outcome.created)
        counts["created_active"] += sum(1 for _, state in outcome.created if state == "active")
        counts["created_unconfirmed"] += sum(1 for _, state in outcome.created if state != "active")
        counts["unchanged"] += outcome.existed + outcome.already_gone
        counts["deleted"] += len(outcome.retired)
        counts["held"] += len(outcome.held)
        counts["missing_users"] += outcome.missing_user
        counts["failed"] += len(outcome.failed)
        counts["not_attempted"] += len(outcome.not_attempted)
        for failure in outcome.failed:
            if len(self.failures) >= MAX_REPORTED_FAILURES:
                break
            self.failures.append(
                {
                    "user": redact_user_ref(outcome.plan.ref),
                    "user_id": outcome.plan.canvas_user_id,
                    "action": failure.action,
                    "error": failure.error_type,
                    "status_code": failure.status_code,
                    "message": _clip(failure.message),
                }
            )

    @property
    def failed(self) -> int:
        return self.counts["failed"]

    def as_dict(self) -> dict[str, Any]:
        """JSON-plain, no addresses, bounded in size whatever the number of users."""
        return {
            **self.options,
            "users": self.users,
            "to_create": self.to_create,
            "to_delete": self.to_delete,
            **self.counts,
            "blocked_by": list(self.blocked_by),
            "stopped": self.stopped,
            "requests": self.requests,
            "failures": list(self.failures),
            "failures_not_shown": max(0, self.failed - len(self.failures)),
        }


def _entry(outcome: UserOutcome, dry_run: bool) -> dict[str, Any]:
    plan = outcome.plan
    entry: dict[str, Any] = {"kind": "user", "user": plan.ref}
    if len(plan.refs) > 1:
        entry["also"] = plan.refs[1:]
    entry.update(line=plan.line, user_id=plan.canvas_user_id)
    if outcome.missing_user:
        entry["missing_user"] = True
    created = [address for address, _ in outcome.created]
    if dry_run:
        entry["to_create"] = created
        entry["to_retire"] = list(outcome.retired)
    else:
        entry["created"] = created
        entry["unconfirmed"] = [address for address, state in outcome.created if state != "active"]
        entry["retired"] = list(outcome.retired)
    entry["held"] = [{"address": h.channel.address, "reason": h.reason} for h in outcome.held]
    entry["failed"] = [
        {
            "action": f.action,
            **({"address": f.address} if f.address is not None else {}),
            "error": f.error_type,
            "status_code": f.status_code,
            "message": f.message,
        }
        for f in outcome.failed
    ]
    entry["not_attempted"] = [{"action": action, "address": a} for action, a in outcome.not_attempted]
    entry["skipped"] = list(outcome.skipped)
    entry["kept"] = [c.address for c in plan.keep]
    entry["out_of_scope"] = [c.address for c in plan.out_of_scope]
    return {key: value for key, value in entry.items() if value not in ([], None) or key == "user_id"}


def plan_file_lines(
    report: dict[str, Any], outcomes: Iterable[UserOutcome], *, planned: bool
) -> Iterator[str]:
    """The plan file: a summary line (the XCom report without its failure list), then one line per user.

    ``planned``: nothing was written (a dry run, or a guard blocked the run), so the user lines say
    ``to_create`` and ``to_retire`` rather than ``created`` and ``retired``.
    """
    summary = {key: value for key, value in report.items() if key not in ("failures", "failures_not_shown")}
    yield json.dumps({"kind": "summary", **summary}) + "\n"
    for outcome in outcomes:
        if outcome.changed:
            yield json.dumps(_entry(outcome, planned)) + "\n"
