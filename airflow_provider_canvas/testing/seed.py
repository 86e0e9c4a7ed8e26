"""Seed files: your own users and channels for the fake Canvas, from CSV or JSON (``--seed-file``).

A DAG author rehearses a DAG against the data it will meet: students with SIS ids and logins, and their
e-mail and SMS channels in each state. The whole file is checked before anything is seeded, and every
problem is reported with the line (CSV) or the path (JSON) and the field it is in.

JSON: an object with a ``users`` list::

    {"users": [
      {"name": "Ada Student", "sis_user_id": "S100", "login_id": "ada@example.edu",
       "channels": [{"type": "email", "address": "ada@example.edu", "workflow_state": "active"},
                    {"type": "sms", "address": "+15555550100", "workflow_state": "unconfirmed"}]}
    ]}

CSV: a header, then one row per channel; a user's fields repeat on each of its rows (or stay empty after
the first), and a row without ``address`` is a user without channels::

    sis_user_id,login_id,name,integration_id,channel_type,address,workflow_state
    S100,ada@example.edu,Ada Student,,email,ada@example.edu,active
    S100,,,,sms,+15555550100,unconfirmed

Users: at least one of ``sis_user_id`` and ``login_id``; ``name`` defaults to ``User <sis id or login>``.
Channels: ``type`` (CSV ``channel_type``) ``email`` (default), ``sms`` or ``slack``; ``address``;
``workflow_state`` ``active`` (default), ``unconfirmed`` or ``retired``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .state import _EMAIL_RE

if TYPE_CHECKING:
    from .server import FakeCanvas

__all__ = ["SeedChannel", "SeedFileError", "SeedSummary", "SeedUser", "apply_seed", "load_seed_file"]

SEED_TYPES = ("email", "sms", "slack")
SEED_STATES = ("active", "unconfirmed", "retired")
USER_FIELDS = ("sis_user_id", "login_id", "name", "integration_id")
CHANNEL_FIELDS = ("type", "address", "workflow_state")
CSV_COLUMNS = (*USER_FIELDS, "channel_type", "address", "workflow_state")
MAX_LENGTH = 255
MAX_REPORTED = 20


class SeedFileError(ValueError):
    """The seed file cannot be used; ``problems`` lists every problem found, each naming where it is."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        shown = problems[:MAX_REPORTED]
        more = len(problems) - len(shown)
        lines = [f"seed file {self.path}: {len(problems)} problem(s):", *(f"  {p}" for p in shown)]
        if more:
            lines.append(f"  ... and {more} more")
        super().__init__("\n".join(lines))


@dataclass
class SeedChannel:
    """One channel of a seed file, checked; ``where`` is its line (CSV) or path (JSON)."""

    type: str
    address: str
    workflow_state: str
    where: str  # "line 4" or "users[0].channels[1]"


@dataclass
class SeedUser:
    """One user of a seed file, checked, with its channels in file order."""

    sis_user_id: str | None
    login_id: str | None
    name: str
    integration_id: str | None
    where: str
    channels: list[SeedChannel] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"sis_user_id {self.sis_user_id!r}" if self.sis_user_id else f"login_id {self.login_id!r}"


class _Problems(list[str]):
    def add(self, where: str, name: str, message: str) -> None:
        self.append(f"{where}, {name}: {message}")


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object, where: str, name: str, problems: _Problems, *, required: bool = False) -> str | None:
    """A string field: stripped; None when empty. Numbers are refused (an SIS id ``007`` would lose zeros)."""
    if _blank(value):
        if required:
            problems.add(where, name, "is required")
        return None
    if not isinstance(value, str):
        problems.add(where, name, f"must be a string; got {json.dumps(value)} (quote it)")
        return None
    text = value.strip()
    if len(text) > MAX_LENGTH:
        problems.add(where, name, f"is {len(text)} characters long; the limit is {MAX_LENGTH}")
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        problems.add(where, name, "contains control characters")
        return None
    return text


def _channel(
    raw: Mapping[str, Any], where: str, names: Mapping[str, str], problems: _Problems
) -> SeedChannel:
    """``names`` maps a field to how the file calls it (CSV says ``channel_type`` for ``type``)."""
    kind = (_text(raw.get("type"), where, names["type"], problems) or "email").lower()
    if kind not in SEED_TYPES:
        hint = "; push channels need a device: create them through the API" if kind == "push" else ""
        problems.add(where, names["type"], f"{kind!r} is not one of {', '.join(SEED_TYPES)}{hint}")
    address = _text(raw.get("address"), where, names["address"], problems, required=True) or ""
    if kind == "email" and address and not _EMAIL_RE.fullmatch(address):
        problems.add(where, names["address"], f"{address!r} is not an e-mail address Canvas accepts")
    state = (_text(raw.get("workflow_state"), where, names["workflow_state"], problems) or "active").lower()
    if state not in SEED_STATES:
        problems.add(where, names["workflow_state"], f"{state!r} is not one of {', '.join(SEED_STATES)}")
    return SeedChannel(kind, address, state, where)


def _user(raw: Mapping[str, Any], where: str, problems: _Problems) -> SeedUser:
    values = {name: _text(raw.get(name), where, name, problems) for name in USER_FIELDS}
    if _blank(raw.get("sis_user_id")) and _blank(raw.get("login_id")):  # (a bad value is reported as such)
        problems.add(
            where, "sis_user_id", "give sis_user_id or login_id (or both), so a DAG can name the user"
        )
    name = values["name"] or f"User {values['sis_user_id'] or values['login_id']}"
    return SeedUser(values["sis_user_id"], values["login_id"], name, values["integration_id"], where)


def _from_json(text: str, problems: _Problems) -> list[SeedUser]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        problems.append(f"line {error.lineno} column {error.colno}: not valid JSON: {error.msg}")
        return []
    if not isinstance(data, dict) or not isinstance(data.get("users"), list):
        problems.append('the top level must be an object with a "users" list: {"users": [{...}, ...]}')
        return []
    unknown_top = sorted(set(data) - {"users"})
    if unknown_top:
        problems.append(f"unknown top-level key(s) {', '.join(unknown_top)}; only 'users' is read")
    users = []
    for index, raw in enumerate(data["users"]):
        where = f"users[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be an object with sis_user_id, login_id, name, channels")
            continue
        for key in sorted(set(raw) - {*USER_FIELDS, "channels"}):
            problems.add(where, key, f"is not a user field; use {', '.join((*USER_FIELDS, 'channels'))}")
        user = _user(raw, where, problems)
        channels = raw.get("channels", [])
        if not isinstance(channels, list):
            problems.add(where, "channels", "must be a list of objects with type, address, workflow_state")
            channels = []
        for number, channel in enumerate(channels):
            inner = f"{where}.channels[{number}]"
            if not isinstance(channel, dict):
                problems.append(f"{inner}: must be an object with type, address, workflow_state")
                continue
            for key in sorted(set(channel) - set(CHANNEL_FIELDS)):
                problems.add(inner, key, f"is not a channel field; use {', '.join(CHANNEL_FIELDS)}")
            user.channels.append(_channel(channel, inner, {name: name for name in CHANNEL_FIELDS}, problems))
        users.append(user)
    return users


def _from_csv(text: str, problems: _Problems) -> list[SeedUser]:
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        problems.append(f"line 1: the header is missing; start with {','.join(CSV_COLUMNS)}")
        return []
    columns = [name.strip() for name in header]
    unknown = [name for name in columns if name not in CSV_COLUMNS]
    for name in unknown:
        problems.append(
            f"line 1, {name or '(empty)'}: unknown column; the columns are {','.join(CSV_COLUMNS)}"
        )
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    for name in duplicated:
        problems.append(f"line 1, {name}: the column appears more than once")
    if "sis_user_id" not in columns and "login_id" not in columns:
        problems.append("line 1: a sis_user_id or login_id column is needed to say whose row it is")
    if unknown or duplicated or problems:
        return []
    names = {"type": "channel_type", "address": "address", "workflow_state": "workflow_state"}
    users: list[SeedUser] = []
    given: dict[int, dict[str, tuple[str, str]]] = {}  # id(user) -> field -> (value, the row that gave it)
    by_sis: dict[str, SeedUser] = {}
    by_login: dict[str, SeedUser] = {}
    for row in reader:
        where = f"line {reader.line_num}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            problems.append(f"{where}: {len(row)} fields; the header has {len(columns)}")
            continue
        raw = dict(zip(columns, row, strict=True))
        user = _user(raw, where, problems)
        known = (
            by_sis.get(user.sis_user_id) if user.sis_user_id else by_login.get((user.login_id or "").lower())
        )
        if known is None:
            known = user
            users.append(user)
            given[id(user)] = {}
        fields = given[id(known)]
        for name in USER_FIELDS:  # a user's rows repeat its fields or leave them empty
            value = raw.get(name, "").strip()
            if not value:
                continue
            if name not in fields:
                fields[name] = (value, where)
                if known is not user:
                    setattr(known, name, value)
                continue
            earlier, first_where = fields[name]
            same = earlier.lower() == value.lower() if name == "login_id" else earlier == value  # as Canvas
            if not same:
                problems.add(where, name, f"{value!r} differs from {earlier!r} on {first_where} (same user)")
        if known.sis_user_id:
            by_sis.setdefault(known.sis_user_id, known)
        if known.login_id:
            by_login.setdefault(known.login_id.lower(), known)
        channel_cells = {name: raw.get(column, "") for name, column in names.items()}
        if any(value.strip() for value in channel_cells.values()):
            known.channels.append(_channel(channel_cells, where, names, problems))
    return users


def _check_uniqueness(users: list[SeedUser], problems: _Problems) -> None:
    """What Canvas refuses: two users with one SIS id, login or integration id; two live equal channels."""
    seen: dict[tuple[str, str], SeedUser] = {}
    for user in users:
        for name in ("sis_user_id", "login_id", "integration_id"):
            value = getattr(user, name)
            if value is None:
                continue
            key = (name, value.lower() if name == "login_id" else value)
            other = seen.setdefault(key, user)
            if other is not user:
                problems.add(user.where, name, f"{value!r} is already used by the user at {other.where}")
        live: dict[tuple[str, str], SeedChannel] = {}
        for channel in user.channels:
            if channel.workflow_state == "retired" or not channel.address:
                continue
            first = live.setdefault((channel.type, channel.address.lower()), channel)
            if first is not channel:
                problems.append(
                    f"{channel.where}: {user.label} already has the {channel.type} channel "
                    f"{channel.address!r} ({first.where}); Canvas allows one unconfirmed or active channel "
                    "per type and address (retired ones may repeat)"
                )


def load_seed_file(path: Path | str) -> list[SeedUser]:
    """Read and check a seed file; nothing is seeded here.

    :param path: a ``.csv`` or ``.json`` file in the format above.
    :return: the users, in file order, each with its channels.
    :raises SeedFileError: the file is unreadable or has problems; every problem is listed, with the line
        (CSV) or the path (JSON) and the field.
    """
    path = Path(path)
    problems = _Problems()
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise SeedFileError(
            path, [f"the file name must end in .csv or .json (got {path.suffix or 'no suffix'!r})"]
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise SeedFileError(path, [f"cannot be read: {error.strerror or error}"]) from None
    except UnicodeDecodeError as error:
        problem = f"is not UTF-8 text (at byte offset {error.start}); save it as UTF-8"
        raise SeedFileError(path, [problem]) from None
    users = _from_json(text, problems) if suffix == ".json" else _from_csv(text, problems)
    _check_uniqueness(users, problems)
    if problems:
        raise SeedFileError(path, problems)
    return users


@dataclass(frozen=True)
class SeedSummary:
    """What :func:`apply_seed` added; the command line prints it in its JSON line's ``seed_files``.

    :ivar users: how many users.
    :ivar channels: how many channels.
    :ivar first_id: the first user's id (the ids are consecutive), or None for no users.
    :ivar last_id: the last user's id.
    """

    users: int
    channels: int
    first_id: int | None
    last_id: int | None


def apply_seed(canvas: FakeCanvas, path: Path | str, users: list[SeedUser]) -> SeedSummary:
    """Add the users and their channels (in file order) to the fake; ids are consecutive.

    :param canvas: the fake, started or not.
    :param path: the seed file, for messages.
    :param users: what :func:`load_seed_file` read.
    :return: how many users and channels were added, and the users' ids.
    :raises SeedFileError: a user's SIS id, login or integration id is already taken in the fake (by its
        demo data or an earlier seed file).
    """
    ids: list[int] = []
    channels = 0
    for user in users:
        try:
            user_id = canvas.add_user(
                user.name,
                sis_user_id=user.sis_user_id,
                login_id=user.login_id,
                integration_id=user.integration_id,
            )
        except ValueError as error:
            raise SeedFileError(
                path, [f"{user.where}: {error} in the fake already (its demo data? try --no-demo)"]
            ) from None
        ids.append(user_id)
        for channel in user.channels:
            canvas.add_channel(user_id, channel.type, channel.address, workflow_state=channel.workflow_state)
            channels += 1
    return SeedSummary(len(ids), channels, ids[0] if ids else None, ids[-1] if ids else None)
