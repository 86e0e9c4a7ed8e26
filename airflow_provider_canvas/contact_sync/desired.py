"""Reading the wanted contacts: an SIS export as it is, a JSON-lines file, or rows handed over in Python.

A file is read where it lies (a local path or any URL the caller can open), so addresses never travel
through XCom. Every row is checked before a request is sent, and every bad row is reported at once with the
file's own line numbers. Duplicates collapse the way Canvas compares addresses (case-insensitively).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_canvas.wire.channels import address_key, validate_address
from airflow_provider_canvas.wire.urls import USER_ID_PREFIXES, user_id_segment

__all__ = ["DesiredState", "Wanted", "load_desired", "user_reference"]

MAX_REPORTED_ROW_ERRORS = 20
SIS_HINT = (
    "If the column holds SIS ids (or other ids without a 'prefix:'), set user_id_prefix='sis_user_id:' "
    "(or the prefix that fits) and it is put in front of every id that has none."
)


@dataclass(frozen=True)
class Wanted:
    address: str  # as given (stripped); Canvas keeps the casing it is sent
    line: int  # where it was read: the file's line, or the row's number


@dataclass
class DesiredState:
    """user reference -> {address key -> Wanted}, in input order, duplicates already collapsed."""

    users: dict[str, dict[str, Wanted]] = field(default_factory=dict)
    rows: int = 0
    duplicates: int = 0
    source: str = "desired"

    @property
    def addresses(self) -> int:
        return sum(len(addresses) for addresses in self.users.values())


def user_reference(value: object, prefix: str | None = None, *, field: str = "user_id") -> str:
    """The user as Canvas is asked for it: ``42``, ``self`` or ``sis_user_id:S1``; checked, never shown.

    With ``prefix``, every id without a known ``prefix:`` of its own gets it, numbers included: SIS ids are
    often numeric, and ``12345`` read as a Canvas id would be a different person.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"{field} must be text or a whole number; got {type(value).__name__}.")
    if prefix and text:
        known, sep, _ = text.partition(":")
        if not (sep and known in USER_ID_PREFIXES):
            text = prefix + text
    segment = user_id_segment(text, field=field, show_value=False)  # values can be e-mail addresses
    return segment if segment.isdigit() or segment == "self" else text


def _column(fields: Sequence[str], wanted: str) -> str | None:
    if wanted in fields:
        return wanted
    folded = [f for f in fields if f.lower() == wanted.lower()]
    return folded[0] if len(folded) == 1 else None


def _csv_rows(name: str, text: str, columns: tuple[str, str]) -> Iterator[tuple[int, Any, Any]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        header = []
    found = {wanted: _column(header, wanted) for wanted in columns}
    missing = [wanted for wanted, column in found.items() if column is None]
    if missing:
        raise ValueError(
            f"desired file {name!r} needs a header row with the columns {columns[0]!r} and {columns[1]!r}; "
            f"missing: {', '.join(missing)} (found: {', '.join(header) or 'no header'}). Name the columns "
            "with user_id_column= and address_column=."
        )
    index = {wanted: header.index(str(column)) for wanted, column in found.items()}
    while True:
        start = reader.line_num + 1  # a quoted field can span lines: report where the row starts
        try:
            cells = next(reader)
        except StopIteration:
            return
        if not cells or all(not cell.strip() for cell in cells):
            continue
        user, address = (cells[index[c]] if index[c] < len(cells) else None for c in columns)
        yield start, user, address


def _jsonl_rows(name: str, text: str, columns: tuple[str, str]) -> Iterator[tuple[int, Any, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:
            raise ValueError(f"desired file {name!r} line {number} is not JSON: {error}.") from None
        yield number, *_pick(row, columns)


_MISSING = object()


@dataclass(frozen=True)
class _NotAMapping:
    type_name: str


def _pick(row: Any, columns: tuple[str, str]) -> tuple[Any, Any]:
    if not isinstance(row, Mapping):
        return _MISSING, _NotAMapping(type(row).__name__)
    return row.get(columns[0], _MISSING), row.get(columns[1], _MISSING)


def _file_rows(name: str, text: str, columns: tuple[str, str]) -> tuple[str, Iterator[tuple[int, Any, Any]]]:
    lowered = name.lower()
    text = text.lstrip("\ufeff")
    if lowered.endswith(".csv"):
        return "line", _csv_rows(name, text, columns)
    if lowered.endswith((".jsonl", ".ndjson")):
        return "line", _jsonl_rows(name, text, columns)
    raise ValueError(
        f"desired file {name!r}: use a .csv file (a header row naming the columns {columns[0]!r} and "
        f"{columns[1]!r}) or a .jsonl file (one JSON object per line with those keys)."
    )


def _read_local(path: str) -> str:
    if not os.path.isfile(path):
        raise ValueError(
            f"desired file {path[:200]!r} does not exist (relative paths are from the worker's cwd)."
        )
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _source(
    desired: Any, columns: tuple[str, str], read_text: Callable[[str], str] | None
) -> tuple[str, str, Iterable[tuple[int, Any, Any]]]:
    """(description, what a position is called, rows as (position, user, address))."""
    is_path = isinstance(desired, (str, os.PathLike)) or type(desired).__name__ == "ObjectStoragePath"
    if is_path:
        path = str(desired)
        if path.lstrip()[:1] in ("[", "{"):
            raise ValueError(
                "desired is text that looks like a list or mapping, not a file path: a Jinja template "
                "renders XCom values as text. Pass the XCom itself (desired=upstream_task.output), set "
                "render_template_as_native_obj=True on the DAG, or better, give the path of the file."
            )
        text = read_text(path) if read_text is not None and "://" in path else _read_local(path)
        name = os.path.basename(path.rstrip("/")) or path
        where, rows = _file_rows(path, text, columns)
        return name, where, rows
    if isinstance(desired, Mapping):
        entries = (
            (number, user, address)
            for number, (user, addresses) in enumerate(desired.items(), start=1)
            for address in ([addresses] if isinstance(addresses, str) else addresses or [None])
        )
        return f"a mapping of {len(desired)} users", "entry", entries
    if isinstance(desired, Sequence):
        rows = ((number, *_pick(row, columns)) for number, row in enumerate(desired, start=1))
        return f"a list of {len(desired)} rows", "row", rows
    raise ValueError(
        "desired must be the path or URL of a .csv/.jsonl file, a list of rows (mappings with the user id "
        f"and address columns), or a mapping of user id -> addresses; got {type(desired).__name__}."
    )


def load_desired(
    desired: Any,
    channel_type: str,
    *,
    user_id_column: str = "user_id",
    address_column: str = "address",
    user_id_prefix: str | None = None,
    read_text: Callable[[str], str] | None = None,
) -> DesiredState:
    """Read and check every row; one ValueError names every bad row (up to 20), before any request.

    ``read_text`` opens URLs (``s3://...``); local paths are read directly.
    """
    columns = (user_id_column, address_column)
    name, where, rows = _source(desired, columns, read_text)
    state = DesiredState(source=name)
    errors: list[str] = []
    bare_ids = False
    for position, user, address in rows:
        state.rows += 1
        if user is _MISSING or address is _MISSING:
            got = f" (got a {address.type_name})" if isinstance(address, _NotAMapping) else ""
            errors.append(
                f"{where} {position}: needs the keys {user_id_column!r} and {address_column!r}{got}"
            )
            continue
        try:
            ref = user_reference(user, user_id_prefix, field=user_id_column)
            # Values stay out of the messages: the task log is no place for addresses.
            text = validate_address(channel_type, address, field=address_column, show_value=False)
        except ValueError as error:
            bare_ids = bare_ids or "not a Canvas user reference" in str(error)
            errors.append(f"{where} {position}: {error}")
            continue
        addresses = state.users.setdefault(ref, {})
        if address_key(text) in addresses:
            state.duplicates += 1
        else:
            addresses[address_key(text)] = Wanted(text, position)
    if errors:
        shown = "; ".join(e.rstrip(".") for e in errors[:MAX_REPORTED_ROW_ERRORS])
        more = len(errors) - MAX_REPORTED_ROW_ERRORS
        hint = f" {SIS_HINT}" if bare_ids and not user_id_prefix else ""
        raise ValueError(
            f"desired ({name}) has {len(errors)} bad row(s), nothing was changed: {shown}"
            + (f" (and {more} more)" if more > 0 else "")
            + f".{hint}"
        )
    return state
