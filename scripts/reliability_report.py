"""Generate ``docs/reliability.md`` from the reliability tests' own data, so the page cannot drift.

The fault matrix is read from ``tests/reliability/test_fault_matrix.py`` (``MATRIX``, ``FAULTS``,
``CALLS``: the very rows the test is parametrized with), the chaos run's settings from
``tests/reliability/test_chaos.py``, the hostile-server bounds from ``tests/hostile/cases.py``
(``HOSTILE``, ``CALLS``), and the bad-input catalogue and safety guarantees from
``tests/reliability/catalogue.py`` (``BAD_INPUTS``, ``SAFETY_GUARANTEES``) when it exists.

    python scripts/reliability_report.py           rewrite docs/reliability.md
    python scripts/reliability_report.py --check   exit 1 if docs/reliability.md is out of date

``tests/reliability/test_report_in_sync.py`` runs the check in the test suite.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["DOC", "check", "main", "render"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DOC = REPO_ROOT / "docs" / "reliability.md"
TESTS = REPO_ROOT / "tests"
CATALOGUE = "reliability.catalogue"
HOSTILE = "hostile.cases"
MAX_CELL = 400  # longer values (a 10,000-character input) are clipped, with their length
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_MARKUP = re.compile(r"[<>*\[\]\\`#~&]|(?<!\w)_|_(?!\w)")  # intraword _ is no emphasis in GFM


# ----- loading the test data ----------------------------------------------------------------------------


def _prepare_import() -> None:
    """Make ``reliability.*`` importable as pytest names it, and keep Airflow off the user's AIRFLOW_HOME."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    if "airflow" not in sys.modules:  # outside pytest: the same private setup as tests/conftest.py
        os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="canvas-reliability-report-"))
        os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")


def _load(name: str) -> ModuleType:
    _prepare_import()
    return importlib.import_module(name)


def _load_optional(name: str) -> ModuleType | None:
    """The module, or None while it does not exist yet (an error inside it is still an error)."""
    try:
        return _load(name)
    except ModuleNotFoundError as error:
        if error.name == name:
            return None
        raise


# ----- markdown helpers ---------------------------------------------------------------------------------


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CELL else f"{text[: MAX_CELL - 3]}... ({len(text):,} chars)"


def _plain(text: str) -> bool:
    """Prose that reads right as it is; anything else (spaces at the ends, control characters) is repr'd."""
    return bool(text) and text == text.strip() and text.isprintable()


def _code(text: str) -> str:
    """A code span, so markdown and HTML in a value show literally."""
    if "`" not in text:
        return f"`{text}`"
    return f"`` {text} ``" if "``" not in text else text.replace("`", "'")


def cell(value: Any) -> str:
    """One value as table-safe markdown, the same on every run (no object addresses, clipped)."""
    if value is None:
        return ""
    if isinstance(value, type):
        text = _code(value.__name__)
    elif isinstance(value, BaseException):
        text = _code(type(value).__name__) + (f": {_clip(str(value))}" if str(value) else "")
    elif isinstance(value, str):
        if not _plain(value):
            text = _code(_clip(repr(value)))
        elif _MARKUP.search(value):
            text = _code(_clip(value))
        else:
            text = _clip(value)
    elif isinstance(value, bool | int | float | bytes | bytearray) or not callable(value):
        text = _code(_clip(_ADDRESS.sub("", repr(value))))
    else:
        text = _code(getattr(value, "__qualname__", None) or getattr(value, "__name__", None) or repr(value))
    return _ADDRESS.sub("", text).replace("\r", " ").replace("\n", " ").replace("|", "\\|")


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _columns(item: Any) -> tuple[list[str], list[Any]] | None:
    """Column names and values of a record-like item (dataclass, named tuple, mapping, pytest.param)."""
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        fields = [f for f in dataclasses.fields(item) if f.repr]
        return [f.name for f in fields], [getattr(item, f.name) for f in fields]
    if all(hasattr(item, name) for name in ("values", "marks", "id")):  # pytest.param(...), a named tuple
        return ["id", *(f"value {n}" for n in range(1, len(item.values) + 1))], [item.id, *item.values]
    if isinstance(item, tuple) and hasattr(item, "_fields"):
        return list(item._fields), list(item)
    if isinstance(item, Mapping):
        return [str(key) for key in item], list(item.values())
    if isinstance(item, tuple):
        return [f"value {n}" for n in range(1, len(item) + 1)], list(item)
    return None


def _described(items: list[Any]) -> list[str]:
    """The record class's own docstring, when it has one, so the columns are explained where defined."""
    kinds = {type(item) for item in items}
    doc = inspect.getdoc(kinds.pop()) if len(kinds) == 1 else None
    if not doc or doc.startswith(f"{type(items[0]).__name__}("):  # a named tuple's generated docstring
        return []
    lines: list[str] = []
    for paragraph in doc.split("\n\n"):
        lines += [" ".join(paragraph.split()), ""]
    return lines


def records(items: Iterable[Any]) -> list[str]:
    """A table for record-like items (columns in first-seen order), else a bullet list."""
    items = list(items)
    shaped = [_columns(item) for item in items]
    if not items or any(shape is None for shape in shaped):
        return [f"- {cell(item)}" for item in items]
    header: list[str] = []
    for names, _ in shaped:  # type: ignore[misc]
        header += [name for name in names if name not in header]
    rows = []
    for names, values in shaped:  # type: ignore[misc]
        by_name = dict(zip(names, values, strict=True))
        rows.append([cell(by_name.get(name)) for name in header])
    numbered = ([str(n), *row] for n, row in enumerate(rows, start=1))
    return [*_described(items), *table(["#", *header], numbered)]


# ----- sections -----------------------------------------------------------------------------------------


def para(text: str) -> str:
    """One markdown paragraph from a triple-quoted string (line breaks and indentation collapsed)."""
    return " ".join(text.split())


def _matrix_section(matrix: ModuleType) -> list[str]:
    calls, faults, cells = matrix.CALLS, matrix.FAULTS, matrix.MATRIX
    by_key = {(c.fault.name, c.call.name): c for c in cells}
    assert len(by_key) == len(cells) == len(calls) * len(faults), "the matrix must be the full cross product"
    counts: dict[str, int] = {}
    for c in cells:
        counts[c.expect.outcome] = counts.get(c.expect.outcome, 0) + 1
    lines = [
        "## Fault matrix",
        "",
        para(f"""
            {len(cells)} cells: {len(faults)} faults x {len(calls)} calls, one parametrized test
            ([`test_fault_matrix.py`](../tests/reliability/test_fault_matrix.py)) against the bundled fake
            Canvas over real HTTP. {counts.get("recovered", 0)} cells recover, {counts.get("error", 0)} end
            in a typed error, {counts.get("n/a", 0)} are not applicable.
        """),
        "",
        para(f"""
            Every call uses a connection with `max_retries={matrix.MAX_RETRIES}` and
            `timeout={matrix.TIMEOUT:g}` (seconds) and lists {matrix.PER_PAGE} channels per page, so the
            listed users span two pages. `xN` is how many times in a row the fault is injected into the
            call's requests: transient faults fewer times than the retries allow, the `outlives the
            retries` rows on every attempt. Write calls get the fault on their write request (the sync
            operator on both writes of one user, its create and its delete, for faults it recovers from; on
            its create alone for the others, since that user's delete is then held), the other calls on
            their list request; Link faults always on a list page.
        """),
        "",
        "What each outcome asserts:",
        "",
        para("""
            - **recovered**: the call returns what it returns without the fault, the fake Canvas ends in
            the state the call asks for, no address exists twice and no create was answered twice, and the
            fault was met as often as it was injected (the retries really happened).
        """),
        para("""
            - **n/a**: the fault cannot apply (a Link fault for a call that reads no list). It is armed,
            shown never to be consumed, and the call behaves as without it.
        """),
        para("""
            - **an error class**: exactly that class is raised, its message is clear and carries no token,
            no request reaches the other host, and nothing is half-applied (the fake is as before, except
            where noted that an earlier ambiguous attempt did the work). The bulk listing returns the error
            as the faulted user's value and the other users' results are unchanged. The sync operator fails
            the task, with Airflow's retries (`AirflowException`) when a later attempt can fix the error
            and without (`AirflowFailException`) when it cannot; its plan file lists the faulted user's
            items (the XCom report has counts and messages, no addresses), the other users are applied
            unless Canvas became unreachable (then the run stops at once), and a re-run converges to the
            desired state.
        """),
        "",
    ]
    header = ["Fault", *(call.label for call in calls)]
    rows = [
        [fault.title.replace("|", "\\|"), *(by_key[fault.name, call.name].label for call in calls)]
        for fault in faults
    ]
    lines += table(header, rows)
    lines += ["", "### Why each outcome", ""]
    for fault in faults:
        groups: dict[tuple[str, str, str], list[str]] = {}
        for call in calls:
            c = by_key[fault.name, call.name]
            groups.setdefault((c.label, c.expect.note, c.expect.says), []).append(call.label)
        lines.append(f"- **{fault.title}**")
        for (label, note, says), names in groups.items():
            who = "all calls" if len(names) == len(calls) else ", ".join(names)
            message = f' The message says "{says}".' if says else ""
            lines.append(f"  - {label} ({who}): {note}.{message}")
    return [*lines, ""]


def _chaos_section(chaos: ModuleType) -> list[str]:
    kinds = ", ".join(_fault_name(fault) for fault in chaos.CHAOS_FAULTS)
    return [
        "## Nothing lost, nothing doubled",
        "",
        para(f"""
            [`test_chaos.py`](../tests/reliability/test_chaos.py) mirrors {chaos.USERS:,} users with
            `CanvasSyncCommunicationChannelsOperator` (creates, deletes and unchanged addresses, some in
            another case; {chaos.BYSTANDERS} users outside the desired state) while the fake Canvas answers
            {chaos.FAULT_RATE:.0%} of requests, at random, with one of: {kinds}. After
            {chaos.OUTAGE_AFTER_WRITES} writes Canvas becomes unreachable (every request is reset), as when
            a worker loses its network part-way; the sync stops submitting work at once and the task fails
            (retryably) with its report and plan file. A second run, with random faults again, must finish
            the job. The test asserts:
        """),
        "",
        para("""
            - the first run stopped at once (writes after the outage are bounded by what was in flight),
            left nobody who had an address without one, lists every item it did not do in its plan file
            (failed, held or not attempted), and claims nothing that did not happen;
        """),
        "- the second run reports no failures;",
        "- the end state is exactly the desired state, and users outside it are untouched;",
        para("""
            - no address was created twice: no duplicate rows in the fake (retired rows included), the new
            rows are exactly the planned creates, and Canvas answered at most one create per address with
            200 in the request log.
        """),
        "",
    ]


def _hostile_section(hostile: ModuleType) -> list[str]:
    cases = list(hostile.HOSTILE)
    calls = ", ".join(hostile.CALLS)
    return [
        "## Hostile servers",
        "",
        para(f"""
            What a misconfigured proxy, a captive portal or a compromised host can answer, and the bound
            that holds against it: {len(cases)} behaviours of a small hostile server on loopback
            ([`server.py`](../tests/hostile/server.py)), each run by
            [`test_bounds.py`](../tests/hostile/test_bounds.py) against every call it applies to ({calls};
            the bulk calls must return the other user's ordinary result beside the hostile one) with small
            limits set through the connection extras, and some at the defaults. A typed error's message
            names the extra that sets the bound; the bulk calls return it as the item's value, the trigger
            fires it as an error event, the sync operator reports it per item. Secrets echoed by such a
            server are covered by the guarantees below
            ([`test_secrets.py`](../tests/hostile/test_secrets.py)).
        """),
        "",
        *records(cases),
        "",
    ]


def _fault_name(fault: Any) -> str:
    name = fault.kind
    if fault.kind in ("status", "throttle") and fault.code:
        name += f" {fault.code}"
    if fault.after_processing:
        name += " after processing"
    return f"`{name}`"


def _run_by(test_file: str) -> str:
    path = TESTS / "reliability" / test_file
    return f", each run by [`{test_file}`](../tests/reliability/{test_file})" if path.is_file() else ""


def _catalogue_section(catalogue: ModuleType | None) -> list[str]:
    lines = ["## Bad-input catalogue", ""]
    inputs = getattr(catalogue, "BAD_INPUTS", None) if catalogue else None
    if inputs is None:
        return [
            *lines,
            "_Not available yet: `tests/reliability/catalogue.py` does not define `BAD_INPUTS`._",
            "",
        ]
    inputs = list(inputs)
    lines += [
        para(f"""
            {len(inputs)} bad inputs and the answer each must get, from `BAD_INPUTS` in
            [`catalogue.py`](../tests/reliability/catalogue.py){_run_by("test_bad_inputs.py")}.
        """),
        "",
    ]
    return [*lines, *records(inputs), ""]


def _safety_section(catalogue: ModuleType | None) -> list[str]:
    lines = ["## Token and data safety", ""]
    guarantees = getattr(catalogue, "SAFETY_GUARANTEES", None) if catalogue else None
    if guarantees is None:
        return [
            *lines,
            "_Not available yet: `tests/reliability/catalogue.py` does not define `SAFETY_GUARANTEES`._",
            "",
        ]
    if isinstance(guarantees, Mapping):
        guarantees = [{"guarantee": key, "checked by": value} for key, value in guarantees.items()]
    guarantees = list(guarantees)
    lines += [
        para(f"""
            {len(guarantees)} guarantees, each with the test that fails if it is broken, from
            `SAFETY_GUARANTEES` in [`catalogue.py`](../tests/reliability/catalogue.py).
        """),
        "",
    ]
    return [*lines, *records(guarantees), ""]


def render() -> str:
    matrix = _load("reliability.test_fault_matrix")
    chaos = _load("reliability.test_chaos")
    hostile = _load(HOSTILE)
    catalogue = _load_optional(CATALOGUE)
    lines = [
        "# Reliability and safety",
        "",
        (
            "<!-- Generated by scripts/reliability_report.py from the tests in tests/reliability/. "
            "Do not edit by hand: run `python scripts/reliability_report.py`. -->"
        ),
        "",
        para("""
            What the provider does when Canvas or the network fails, which inputs it refuses, and how it
            keeps the access token and student data safe. Every statement here is generated from the data
            the tests in `tests/reliability/` are parametrized with, and a test fails when this page is out
            of date.
        """),
        "",
        *_matrix_section(matrix),
        *_chaos_section(chaos),
        *_hostile_section(hostile),
        *_catalogue_section(catalogue),
        *_safety_section(catalogue),
    ]
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def check(doc: Path = DOC) -> bool:
    """True when ``doc`` holds exactly what :func:`render` produces."""
    return doc.is_file() and doc.read_text(encoding="utf-8") == render()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    parser.add_argument("--doc", type=Path, default=DOC, help="the page (default: docs/reliability.md)")
    args = parser.parse_args(argv)
    if args.check:
        if check(args.doc):
            return 0
        print(f"{args.doc} is out of date: run `python scripts/reliability_report.py`.", file=sys.stderr)
        return 1
    args.doc.write_text(render(), encoding="utf-8")
    print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
