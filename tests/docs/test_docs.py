"""The docs stay true: samples come from the example DAGs by their markers, and relative links resolve.

The docs site itself is built by ``./dev docs`` (Sphinx, warnings are errors), which CI runs; these tests
check what a forge's Markdown view relies on too, and that the build really fails on a broken sample.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"
GUIDES = sorted(path for path in DOCS.rglob("*.md") if "_build" not in path.relative_to(DOCS).parts)
MARKDOWN_FILES = [*GUIDES, REPO_ROOT / "README.md"]
EXAMPLE_DAGS = sorted((REPO_ROOT / "example_dags").glob("*.py"))

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_INCLUDE = re.compile(r"^```\{literalinclude\}[ \t]+(\S+)[ \t]*\n((?::[^\n]*\n)*)```[ \t]*$", re.MULTILINE)
_OPTION = re.compile(r"^:([\w-]+):[ \t]*(.*)$")
_MARKER = re.compile(r"^\s*# \[(START|END) ([^\]]+)\]\s*$")


def _name(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


# ----- samples included from the example DAGs ---------------------------------------------------------


@dataclass(frozen=True)
class Include:
    doc: Path
    line: int
    target: Path
    options: dict[str, str]

    @property
    def where(self) -> str:
        return f"{_name(self.doc)}:{self.line}"


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value


def includes(doc: Path) -> list[Include]:
    """Every ``literalinclude`` fence of a Markdown page, with its options (MyST's ``:name: value`` form)."""
    text = doc.read_text(encoding="utf-8")
    found = []
    for match in _INCLUDE.finditer(text):
        options = {}
        for line in match.group(2).splitlines():
            option = _OPTION.match(line)
            assert option, f"{_name(doc)}: cannot read the literalinclude option {line!r}"
            options[option.group(1)] = _unquote(option.group(2).strip())
        line = text.count("\n", 0, match.start()) + 1
        found.append(Include(doc, line, (doc.parent / match.group(1)).resolve(), options))
    return found


ALL_INCLUDES = [include for doc in GUIDES for include in includes(doc)]
MARKED_INCLUDES = [include for include in ALL_INCLUDES if "start-after" in include.options]


def markers(path: Path) -> dict[str, list[tuple[str, int]]]:
    """``name -> [(START|END, line number), ...]`` for the ``# [START name]`` markers of a file."""
    found: dict[str, list[tuple[str, int]]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        marker = _MARKER.match(line)
        if marker:
            found.setdefault(marker.group(2).strip(), []).append((marker.group(1), number))
    return found


def test_the_guides_and_the_reference_exist():
    names = {_name(path) for path in GUIDES}
    expected = {"index", "connection", "operators", "testing", "examples", "changelog", "api/index"}
    assert {f"docs/{name}.md" for name in expected} <= names


def test_the_docs_show_samples_from_the_example_dags():
    assert len(MARKED_INCLUDES) >= 7
    outside = [
        include.where
        for include in ALL_INCLUDES
        if not include.target.is_relative_to(REPO_ROOT / "example_dags")
    ]
    assert outside == [], "the docs include code from example_dags/ only (what the test suite runs)"


@pytest.mark.parametrize("include", MARKED_INCLUDES, ids=lambda include: include.where)
def test_each_sample_names_one_marked_block_of_an_example_dag(include: Include):
    assert include.target.is_file(), f"{include.where}: {include.target} does not exist"
    start, end = include.options["start-after"], include.options.get("end-before", "")
    name = re.fullmatch(r"\[START (.+)\]", start)
    assert name, f"{include.where}: start-after should be '[START <name>]', not {start!r}"
    assert end == f"[END {name.group(1)}]", f"{include.where}: end-before should be '[END {name.group(1)}]'"
    assert "dedent" in include.options, f"{include.where}: add ':dedent:' (the blocks sit inside a DAG)"
    found = markers(include.target).get(name.group(1), [])
    kinds = [kind for kind, _ in found]
    assert kinds == ["START", "END"], f"{include.where}: {_name(include.target)} has markers {found}"
    (_, first), (_, last) = found
    assert last - first > 1, f"{include.where}: the block {name.group(1)} is empty"


@pytest.mark.parametrize("dag_file", EXAMPLE_DAGS, ids=lambda path: path.name)
def test_every_example_dag_has_balanced_markers(dag_file: Path):
    for name, found in markers(dag_file).items():
        assert [kind for kind, _ in found] == ["START", "END"], f"{dag_file.name}: marker {name}: {found}"


def test_the_examples_page_shows_every_example_dag_in_full():
    whole = {
        include.target
        for include in includes(DOCS / "examples.md")
        if not {"start-after", "end-before", "lines"} & include.options.keys()
    }
    assert whole == set(EXAMPLE_DAGS)


# ----- links, as a forge renders the Markdown ---------------------------------------------------------


def _links(text: str) -> list[str]:
    text = _CODE_SPAN.sub("", _FENCE.sub("", text))
    return _INLINE_LINK.findall(text) + _REFERENCE_LINK.findall(text)


def _relative_links(text: str) -> list[str]:
    return [target for target in _links(text) if not _SCHEME.match(target) and not target.startswith("#")]


def _anchors(markdown: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(
        r"^#{1,6}\s+(.+?)\s*#*\s*$", _FENCE.sub("", markdown.read_text(encoding="utf-8")), re.M
    )
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("markdown", MARKDOWN_FILES, ids=_name)
def test_relative_links_point_at_existing_files(markdown: Path):
    broken = []
    for target in _relative_links(markdown.read_text(encoding="utf-8")):
        path = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if path and not (markdown.parent / path).exists():
            broken.append(target)
    assert broken == [], f"{markdown.name} links to missing files: {broken}"


@pytest.mark.parametrize("markdown", MARKDOWN_FILES, ids=_name)
def test_anchors_in_links_to_markdown_exist(markdown: Path):
    broken = []
    for target in _links(markdown.read_text(encoding="utf-8")):
        if _SCHEME.match(target) or "#" not in target:
            continue
        path, anchor = target.split("#", 1)
        linked = (markdown.parent / unquote(path)) if path else markdown
        if linked.suffix == ".md" and linked.is_file() and anchor not in _anchors(linked):
            broken.append(target)
    assert broken == [], f"{markdown.name} links to missing headings: {broken}"


def test_link_finder_skips_code_and_external_links():
    text = (
        "[a](docs/a.md) [b](https://example.edu/x) [c](#anchor) ![d](img/d.png)\n"
        "`[e](not/a/link.md)`\n```python\nx = [f](g)\n```\n[h]: ../h.md\n"
    )
    assert _relative_links(text) == ["docs/a.md", "img/d.png", "../h.md"]


def test_include_finder_reads_myst_options():
    (include,) = includes(DOCS / "operators.md")[:1]
    assert include.target == REPO_ROOT / "example_dags" / "example_canvas_channels_walkthrough.py"
    assert include.options == {
        "language": "python",
        "start-after": "[START howto_operator_canvas_list_channels]",
        "end-before": "[END howto_operator_canvas_list_channels]",
        "dedent": "",
    }


# ----- the docs build, with the project's own configuration, on a tiny site ---------------------------


def _build(tmp_path: Path, marker: str) -> subprocess.CompletedProcess[str]:
    """Build a one-page site that includes ``marker`` from a small DAG file, with docs/conf.py."""
    (tmp_path / "example_dags").mkdir()
    (tmp_path / "example_dags" / "dag.py").write_text(
        "with DAG():\n    # [START howto_x]\n    task = Op(\n        task_id='x',\n    )\n    # [END howto_x]\n",
        encoding="utf-8",
    )
    site = tmp_path / "docs"
    site.mkdir()
    shutil.copy(DOCS / "conf.py", site / "conf.py")
    (site / "index.md").write_text(
        "# Tiny\n\n```{literalinclude} ../example_dags/dag.py\n:language: python\n"
        f':start-after: "[START {marker}]"\n:end-before: "[END {marker}]"\n:dedent:\n```\n',
        encoding="utf-8",
    )
    return subprocess.run(
        [
            *(sys.executable, "-m", "sphinx", "--fail-on-warning", "--fresh-env", "--quiet"),
            *("--builder", "html", str(site), str(tmp_path / "out")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("marker", ["howto_x", "howto_gone"])
def test_the_docs_build_includes_the_marked_block_or_fails(tmp_path: Path, marker: str):
    done = _build(tmp_path, marker)
    if marker == "howto_x":
        assert done.returncode == 0, done.stderr
        page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
        code = re.sub(r"<[^>]+>", "", page.split('<div class="highlight">', 1)[1].split("</pre>", 1)[0])
        assert code.replace("&#39;", "'") == "task = Op(\n    task_id='x',\n)\n"  # dedented, markers left out
    else:
        assert done.returncode != 0
        assert "[START howto_gone]" in done.stderr
