"""The contact sync's pure parts: reading the desired state, and diffing it against Canvas.

Everything here is decided locally and before any write: bad rows are reported all at once with their
row numbers, duplicates collapse (Canvas matches addresses case-insensitively, so the sync does too),
and the delete guard runs on the finished plan.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_canvas.hooks._bulk import ChannelChange
from airflow_provider_canvas.wire.channels import LIVE_STATES, address_key, validate_address
from airflow_provider_canvas.wire.urls import user_id_segment

__all__ = ["DesiredState", "Plan", "Planner", "check_deletes", "load_desired", "write_plan"]

COLUMNS = ("user_id", "address")
MAX_REPORTED_ROW_ERRORS = 20


@dataclass
class DesiredState:
    """user id -> {address key: address as given}, in input order; duplicates already collapsed."""

    users: dict[str, dict[str, str]] = field(default_factory=dict)
    rows: int = 0
    duplicates: int = 0

    @property
    def addresses(self) -> int:
        return sum(len(addresses) for addresses in self.users.values())


def _user_key(user_id: object) -> str:
    segment = user_id_segment(
        user_id, show_value=False
    )  # validates; numeric ids are normalised ("007" -> "7")
    return segment if segment.isdigit() or segment == "self" else str(user_id).strip()


def _rows_from_text(name: str, text: str) -> Iterable[tuple[int, Mapping[str, Any]]]:
    lowered = name.lower()
    if lowered.endswith(".csv"):
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        fields = [f.strip() for f in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in fields]
        if missing:
            raise ValueError(
                f"desired file {name!r} must have a header row with columns user_id,address; "
                f"missing: {', '.join(missing)} (found: {', '.join(fields) or 'no header'})."
            )
        for number, row in enumerate(reader, start=2):
            yield number, {(k or "").strip(): v for k, v in row.items()}
    elif lowered.endswith((".jsonl", ".ndjson")):
        for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except ValueError as error:
                raise ValueError(f"desired file {name!r} line {number} is not JSON: {error}.") from None
    else:
        raise ValueError(
            f"desired file {name!r}: use a .csv (header user_id,address) or a .jsonl file "
            "(keys user_id and address)."
        )


def _read(path: Any) -> tuple[str, str]:
    """Text of a local path or any Airflow ObjectStoragePath URL (s3://, gs://, file://, ...)."""
    text_path = str(path)
    if text_path.lstrip()[:1] in ("[", "{"):
        raise ValueError(
            "desired is text that looks like a list or mapping, not a file path: a Jinja template renders "
            "XCom values as text. Pass the XCom itself (desired=upstream_task.output) or set "
            "render_template_as_native_obj=True on the DAG."
        )
    if "://" in text_path:
        from airflow.sdk import ObjectStoragePath

        with ObjectStoragePath(text_path).open("r", encoding="utf-8") as handle:
            return text_path, handle.read()
    if not os.path.isfile(text_path):
        raise ValueError(
            f"desired file {text_path[:200]!r} does not exist (relative paths are from the worker's cwd)."
        )
    with open(text_path, encoding="utf-8") as handle:
        return text_path, handle.read()


def _rows(desired: Any) -> Iterable[tuple[int, Mapping[str, Any]]]:
    if (
        isinstance(desired, str)
        or hasattr(desired, "__fspath__")
        or type(desired).__name__ == "ObjectStoragePath"
    ):
        name, text = _read(desired)
        return _rows_from_text(name, text)
    if isinstance(desired, Mapping):
        return (
            (number, {"user_id": user_id, "address": address})
            for number, (user_id, addresses) in enumerate(desired.items(), start=1)
            for address in ([addresses] if isinstance(addresses, str) else addresses or [None])
        )
    if isinstance(desired, Sequence):
        return enumerate(desired, start=1)
    raise ValueError(
        "desired must be a mapping of user id -> addresses, a list of {'user_id', 'address'} rows, or the "
        f"path of a .csv/.jsonl file; got {type(desired).__name__}."
    )


def load_desired(desired: Any, channel_type: str) -> DesiredState:
    """Read and validate every row; one ValueError names every bad row (up to 20), before any request."""
    state = DesiredState()
    errors: list[str] = []
    for number, row in _rows(desired):
        state.rows += 1
        if not isinstance(row, Mapping) or any(c not in row for c in COLUMNS):
            keys = sorted(row) if isinstance(row, Mapping) else type(row).__name__
            errors.append(f"row {number}: needs keys user_id and address (got {keys})")
            continue
        try:
            # Values stay out of the messages: the task log is no place for addresses.
            user = _user_key(row["user_id"])
            address = validate_address(channel_type, row["address"], show_value=False)
        except ValueError as error:
            errors.append(f"row {number}: {error}")
            continue
        addresses = state.users.setdefault(user, {})
        if address_key(address) in addresses:
            state.duplicates += 1
        else:
            addresses[address_key(address)] = address
    if errors:
        shown = "; ".join(e.rstrip(".") for e in errors[:MAX_REPORTED_ROW_ERRORS])
        more = (
            f" (and {len(errors) - MAX_REPORTED_ROW_ERRORS} more)"
            if len(errors) > MAX_REPORTED_ROW_ERRORS
            else ""
        )
        raise ValueError(
            f"desired has {len(errors)} bad row(s), nothing was changed: {shown.rstrip('.')}{more}."
        )
    return state


@dataclass
class Plan:
    creates: list[ChannelChange] = field(default_factory=list)
    deletes: list[ChannelChange] = field(default_factory=list)
    unchanged: int = 0
    current: int = 0  # live channels of the synced type among the listed users
    failures: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _CanvasUser:
    """One Canvas user as listed, with everything the input wants for it (under any of its references)."""

    live: dict[str, Mapping[str, Any]]  # address key -> live channel of the synced type
    wanted: dict[str, tuple[str, str]] = field(default_factory=dict)  # address key -> (input ref, address)


class Planner:
    """Builds the plan from each user's listing; diffs per Canvas user, not per input reference.

    The same person can appear as ``7`` and as ``sis_user_id:S7``. Diffing each reference on its own would
    make ``mirror`` delete an address the other reference asks to keep, so answers are grouped by the
    ``user_id`` Canvas puts on every channel, and the diff runs once per group at the end. A user with no
    channels at all has nothing to delete, so its wanted addresses are planned as creates right away.
    """

    def __init__(self, channel_type: str, *, mirror: bool) -> None:
        self.channel_type = channel_type
        self.mirror = mirror
        self.plan = Plan()
        self._users: dict[int, _CanvasUser] = {}

    def add(self, ref: str, wanted: Mapping[str, str], channels: Sequence[Mapping[str, Any]]) -> None:
        canvas_id = channels[0].get("user_id") if channels else None
        if not isinstance(canvas_id, int):
            self.plan.creates.extend(
                ChannelChange("create", ref, self.channel_type, a) for a in wanted.values()
            )
            return
        user = self._users.get(canvas_id)
        if user is None:
            live = {
                address_key(str(c.get("address", ""))): c
                for c in channels
                if c.get("type") == self.channel_type and c.get("workflow_state") in LIVE_STATES
            }
            user = self._users[canvas_id] = _CanvasUser(live)
        for key, address in wanted.items():
            user.wanted.setdefault(key, (ref, address))

    def finish(self) -> Plan:
        plan = self.plan
        for canvas_id, user in self._users.items():
            plan.current += len(user.live)
            for key, (ref, address) in user.wanted.items():
                if key in user.live:
                    plan.unchanged += 1
                else:
                    plan.creates.append(ChannelChange("create", ref, self.channel_type, address))
            if self.mirror:
                plan.deletes.extend(
                    ChannelChange("delete", str(canvas_id), self.channel_type, str(c["address"]), c["id"])
                    for key, c in user.live.items()
                    if key not in user.wanted
                )
        return plan


def check_deletes(deletes: int, current: int, max_deletes: int | float) -> None:
    """Refuse a plan that deletes more than allowed: a truncated input must not wipe the contacts."""
    allowed = max_deletes if isinstance(max_deletes, int) else math.floor(max_deletes * current)
    if deletes > allowed:
        limit = (
            f"{max_deletes}"
            if isinstance(max_deletes, int)
            else f"{max_deletes:.0%} of {current} = {allowed}"
        )
        raise ValueError(
            f"The plan would delete {deletes} of {current} current channels, more than max_deletes "
            f"({limit}). Nothing was changed. If the input is complete, raise max_deletes, else fix it."
        )


def write_plan(path: str, plan: Plan, report: Mapping[str, Any]) -> None:
    """Write the full plan and failures as JSON lines to a local path or ObjectStoragePath URL."""
    lines = [json.dumps({"kind": "summary", **{k: v for k, v in report.items() if k != "failures"}})]
    lines += [
        json.dumps({"kind": c.action, "user_id": c.user_id, "address": c.address}) for c in plan.creates
    ]
    lines += [
        json.dumps({"kind": c.action, "user_id": c.user_id, "address": c.address, "channel_id": c.channel_id})
        for c in plan.deletes
    ]
    lines += [json.dumps({"kind": "failure", **f}) for f in report.get("failures", [])]
    text = "\n".join(lines) + "\n"
    if "://" in path:
        from airflow.sdk import ObjectStoragePath

        target = ObjectStoragePath(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
