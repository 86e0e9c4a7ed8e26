"""Keep the code samples in ``docs/*.md`` identical to the example DAGs they are taken from.

A sample in a markdown file is a block like this (``path`` is relative to the repository root, ``name`` is
the marker in that file)::

    <!-- snippet: example_dags/example_canvas_channels_walkthrough.py howto_operator_canvas_list_channels -->
    ```python
    ...
    ```
    <!-- /snippet -->

and its content is the code between ``# [START name]`` and ``# [END name]`` in that file, dedented.

    python scripts/sync_docs.py           rewrite every block with the current code
    python scripts/sync_docs.py --check   exit 1 and list every block that is out of date or broken

Samples are copied, not hand-edited, so that what the docs show is code the test suite runs.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "check", "extract_snippet", "find_blocks", "render", "sync"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS_GLOB = "docs/*.md"
_OPEN = re.compile(r"^<!-- snippet: (?P<path>\S+) (?P<name>\S+) -->$")
_CLOSE = "<!-- /snippet -->"
_MARKER = re.compile(r"^\s*# \[(?P<kind>START|END) (?P<name>[^\]]+)\]\s*$")


class SnippetError(Exception):
    """A block whose source cannot be found: a missing file or marker, or unbalanced markers."""


@dataclass(frozen=True)
class Block:
    """One snippet block: lines ``start`` (the opening comment) to ``end`` (the closing one), 0-based."""

    path: str
    name: str
    start: int
    end: int
    body: str  # the lines between the two comments, newline-terminated


def find_blocks(text: str) -> tuple[list[Block], list[str]]:
    """The snippet blocks of a markdown text, and problems with its comments (1-based line numbers)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    problems: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        opening = _OPEN.match(line)
        if opening is None:
            if line == _CLOSE:
                problems.append(f"line {index + 1}: '{_CLOSE}' without an opening snippet comment")
            elif line.startswith("<!-- snippet"):
                problems.append(f"line {index + 1}: malformed snippet comment {line!r}")
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() != _CLOSE and not _OPEN.match(lines[end].strip()):
            end += 1
        if end == len(lines) or lines[end].strip() != _CLOSE:
            problems.append(f"line {index + 1}: snippet {opening['name']!r} has no '{_CLOSE}'")
            index = end
            continue
        body = "".join(f"{inner}\n" for inner in lines[index + 1 : end])
        blocks.append(Block(opening["path"], opening["name"], index, end, body))
        index = end + 1
    return blocks, problems


def extract_snippet(root: Path, path: str, name: str) -> str:
    """The dedented code between ``# [START name]`` and ``# [END name]`` in ``root / path``."""
    source = (root / path).resolve()
    if not source.is_relative_to(root.resolve()):
        raise SnippetError(f"{path} is outside the repository")
    if not source.is_file():
        raise SnippetError(f"{path} does not exist")
    starts: list[int] = []
    ends: list[int] = []
    lines = source.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        marker = _MARKER.match(line)
        if marker is not None and marker["name"].strip() == name:
            (starts if marker["kind"] == "START" else ends).append(number)
    if not starts or not ends:
        missing = "START" if not starts else "END"
        raise SnippetError(f"marker '# [{missing} {name}]' not found in {path}")
    if len(starts) > 1 or len(ends) > 1:
        raise SnippetError(f"marker {name!r} appears more than once in {path}")
    if ends[0] < starts[0]:
        raise SnippetError(f"marker {name!r} in {path} ends before it starts")
    code = textwrap.dedent("\n".join(lines[starts[0] + 1 : ends[0]])).strip("\n")
    if not code.strip():
        raise SnippetError(f"marker {name!r} in {path} encloses no code")
    return code + "\n"


def render(code: str) -> str:
    """The body of a snippet block for ``code``."""
    return f"```python\n{code}```\n"


def _process(root: Path, write: bool) -> tuple[list[str], list[Path]]:
    """Problems (out-of-date or broken blocks) and, when writing, the files that were rewritten."""
    problems: list[str] = []
    rewritten: list[Path] = []
    for doc in sorted(root.glob(DOCS_GLOB)):
        relative = doc.relative_to(root).as_posix()
        text = doc.read_text(encoding="utf-8")
        blocks, structure = find_blocks(text)
        problems.extend(f"{relative}: {problem}" for problem in structure)
        stale: list[tuple[Block, str]] = []
        for block in blocks:
            where = f"{relative}:{block.start + 1}: snippet {block.path} {block.name}"
            try:
                wanted = render(extract_snippet(root, block.path, block.name))
            except SnippetError as error:
                problems.append(f"{where}: {error}")
                continue
            if block.body != wanted:
                stale.append((block, wanted))
                if not write:
                    problems.append(f"{where}: out of date (run python scripts/sync_docs.py)")
        lines = text.splitlines(keepends=True)
        for block, wanted in reversed(stale):  # from the bottom, so earlier line numbers stay valid
            lines[block.start + 1 : block.end] = wanted.splitlines(keepends=True)
        new_text = "".join(lines)
        if write and new_text != text:
            doc.write_text(new_text, encoding="utf-8")
            rewritten.append(doc)
    return problems, rewritten


def check(root: Path = REPO_ROOT) -> list[str]:
    """Every snippet block that is out of date or whose source is missing; empty when the docs are in sync."""
    problems, _ = _process(root, write=False)
    return problems


def sync(root: Path = REPO_ROOT) -> tuple[list[Path], list[str]]:
    """Rewrite every snippet block from its source; returns the rewritten files and the blocks it could not
    fill (a missing file or marker), which are left as they are."""
    problems, rewritten = _process(root, write=True)
    return rewritten, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if any block is stale")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.root)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"{len(problems)} snippet block(s) need attention.", file=sys.stderr)
            return 1
        print("docs: every snippet block is up to date.")
        return 0
    rewritten, problems = sync(args.root)
    for path in rewritten:
        print(f"updated {path.relative_to(args.root).as_posix()}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
