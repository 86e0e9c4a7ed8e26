"""The docs stay true: code samples match the example DAGs, and relative links point at real files."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.conftest import REPO_ROOT, load_script

MARKDOWN_FILES = [*sorted(REPO_ROOT.glob("docs/*.md")), REPO_ROOT / "README.md"]

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


sync_docs = load_script("sync_docs")


def test_docs_exist():
    names = {path.name for path in REPO_ROOT.glob("docs/*.md")}
    assert {"index.md", "connection.md", "operators.md", "testing.md", "changelog.md"} <= names


def test_code_samples_match_the_example_dags():
    problems = sync_docs.check(REPO_ROOT)
    assert problems == [], "Run `python scripts/sync_docs.py` (or fix the marker):\n" + "\n".join(problems)


def test_the_docs_show_code_samples():
    blocks = [
        block
        for path in REPO_ROOT.glob("docs/*.md")
        for block in sync_docs.find_blocks(path.read_text(encoding="utf-8"))[0]
    ]
    assert len(blocks) >= 5


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


@pytest.mark.parametrize("markdown", MARKDOWN_FILES, ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_relative_links_point_at_existing_files(markdown: Path):
    broken = []
    for target in _relative_links(markdown.read_text(encoding="utf-8")):
        path = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if path and not (markdown.parent / path).exists():
            broken.append(target)
    assert broken == [], f"{markdown.name} links to missing files: {broken}"


@pytest.mark.parametrize("markdown", MARKDOWN_FILES, ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
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


# ----- the sync script itself, on a throw-away repository -----------------------------------------------


@pytest.fixture
def tiny_repo(tmp_path: Path) -> Path:
    (tmp_path / "example_dags").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "example_dags" / "dag.py").write_text(
        "with DAG():\n    # [START howto_x]\n    task = Op(\n        task_id='x',\n    )\n    # [END howto_x]\n"
    )
    (tmp_path / "docs" / "guide.md").write_text(
        "# Guide\n\n<!-- snippet: example_dags/dag.py howto_x -->\n```python\nold\n```\n<!-- /snippet -->\n\nEnd.\n"
    )
    return tmp_path


def test_check_reports_a_stale_block_and_sync_fixes_it(tiny_repo: Path):
    assert sync_docs.main(["--check", "--root", str(tiny_repo)]) == 1
    (problem,) = sync_docs.check(tiny_repo)
    assert problem.startswith("docs/guide.md:3: snippet example_dags/dag.py howto_x: out of date")

    rewritten, problems = sync_docs.sync(tiny_repo)
    assert problems == [] and rewritten == [tiny_repo / "docs" / "guide.md"]
    assert (tiny_repo / "docs" / "guide.md").read_text() == (
        "# Guide\n\n<!-- snippet: example_dags/dag.py howto_x -->\n"
        "```python\ntask = Op(\n    task_id='x',\n)\n```\n<!-- /snippet -->\n\nEnd.\n"
    )
    assert sync_docs.check(tiny_repo) == []
    assert sync_docs.main(["--check", "--root", str(tiny_repo)]) == 0


def test_check_reports_missing_markers_files_and_unclosed_blocks(tiny_repo: Path):
    (tiny_repo / "docs" / "more.md").write_text(
        "<!-- snippet: example_dags/dag.py howto_gone -->\n```python\n```\n<!-- /snippet -->\n"
        "<!-- snippet: example_dags/nope.py howto_x -->\n```python\n```\n<!-- /snippet -->\n"
        "<!-- snippet: example_dags/dag.py howto_x -->\n```python\n"
    )
    problems = "\n".join(sync_docs.check(tiny_repo))
    assert "marker '# [START howto_gone]' not found in example_dags/dag.py" in problems
    assert "example_dags/nope.py does not exist" in problems
    assert "docs/more.md: line 9: snippet 'howto_x' has no '<!-- /snippet -->'" in problems
    before = (tiny_repo / "docs" / "more.md").read_text()
    _, problems_on_sync = sync_docs.sync(tiny_repo)
    assert problems_on_sync and (tiny_repo / "docs" / "more.md").read_text() == before
