"""Section results as plain data, printed as aligned text tables and written as JSON.

A section returns a :class:`Section`; the CLI prints it and collects every section's ``as_dict()`` into
the JSON results file, so the table a person reads and the file a script reads never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

Formatter = Callable[[Any], str]


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    fmt: Formatter = str


@dataclass
class Target:
    name: str  # what is measured, e.g. "throughput vs sequential"
    goal: str  # the target as the issue states it, e.g. ">= 8x"
    value: str  # the measured value, formatted
    met: bool

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "goal": self.goal, "value": self.value, "met": self.met}


@dataclass
class Section:
    name: str
    title: str
    params: dict[str, Any]
    columns: Sequence[Column]
    rows: list[dict[str, Any]]
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # anything else worth keeping in the JSON

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "params": self.params,
            "rows": self.rows,
            "targets": [t.as_dict() for t in self.targets],
            "notes": self.notes,
            **self.data,
        }


# ----- formatters ---------------------------------------------------------------------------------------


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def milliseconds(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def microseconds(value: float) -> str:
    return f"{value * 1e6:.0f} us"


def rate(value: float) -> str:
    return f"{value:.1f}/s"


def ratio(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.2f}x"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def mebibytes(value: float) -> str:
    return f"{value / 2**20:.2f} MiB"


def kibibytes(value: float) -> str:
    return f"{value / 2**10:,.0f} KiB"


def yes_no(value: bool) -> str:
    return "yes" if value else "NO"


# ----- printing -----------------------------------------------------------------------------------------


def _cells(columns: Sequence[Column], row: dict[str, Any]) -> list[str]:
    return [column.fmt(row[column.key]) if row.get(column.key) is not None else "-" for column in columns]


def render(section: Section) -> str:
    lines = [f"== {section.name}: {section.title}"]
    if section.params:
        lines.append("   " + ", ".join(f"{k}={v}" for k, v in section.params.items()))
    headers = [c.header for c in section.columns]
    cells = [_cells(section.columns, row) for row in section.rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        first, *rest = values
        return "  ".join(
            [first.ljust(widths[0]), *(v.rjust(w) for v, w in zip(rest, widths[1:], strict=True))]
        )

    lines.append(line(headers))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(line(r) for r in cells)
    for target in section.targets:
        verdict = "met" if target.met else "SHORT"
        goal = f" {target.goal}" if target.goal else ""
        lines.append(f"   target {target.name}{goal}: {target.value} -> {verdict}")
    lines.extend(f"   note: {note}" for note in section.notes)
    return "\n".join(lines) + "\n"


def print_section(section: Section, out: TextIO) -> None:
    out.write(render(section) + "\n")
    out.flush()


def markdown(section: Section) -> str:
    """The same table in Markdown, for pasting into docs/benchmarks.md."""
    headers = [c.header for c in section.columns]
    rows = [_cells(section.columns, row) for row in section.rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"
