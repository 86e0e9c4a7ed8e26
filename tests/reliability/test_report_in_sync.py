"""``docs/reliability.md`` is generated from the reliability tests' data and must be current."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import load_script

report = load_script("reliability_report")


def test_reliability_page_is_current():
    assert report.DOC.is_file(), "Run `python scripts/reliability_report.py` to generate docs/reliability.md."
    assert report.DOC.read_text(encoding="utf-8") == report.render(), (
        "docs/reliability.md is out of date: run `python scripts/reliability_report.py`."
    )


def test_the_page_shows_the_outcome_every_matrix_cell_asserts():
    matrix = report._load("reliability.test_fault_matrix")  # the module pytest parametrizes the test from
    page = report.render()
    header = "| Fault | " + " | ".join(call.label for call in matrix.CALLS) + " |"
    assert header in page
    for fault in matrix.FAULTS:
        row = [cell.label for cell in matrix.MATRIX if cell.fault is fault]
        assert f"| {fault.title} | " + " | ".join(row) + " |" in page, fault.name


def test_check_mode_flags_a_stale_page(tmp_path: Path):
    page = tmp_path / "reliability.md"
    assert report.main(["--check", "--doc", str(page)]) == 1  # missing
    page.write_text("# stale\n", encoding="utf-8")
    assert report.main(["--check", "--doc", str(page)]) == 1
    assert report.main(["--doc", str(page)]) == 0
    assert report.main(["--check", "--doc", str(page)]) == 0


def test_cells_render_any_value_safely_and_the_same_every_time():
    class Thing:
        pass

    assert report.cell("a|b") == "a\\|b"
    assert report.cell("line\nbreak") == "`'line\\nbreak'`"
    assert report.cell(" padded ") == "`' padded '`"
    assert report.cell("<b>not html</b>") == "`<b>not html</b>`"
    assert report.cell("a `tick`") == "`` a `tick` ``"
    assert report.cell("x" * 10_000).endswith("(10,000 chars)")
    assert report.cell(ValueError) == "`ValueError`"
    assert " at 0x" not in report.cell(Thing())
    assert report.records([{"a": 1}, {"a": 2, "b": "x"}])[0] == "| # | a | b |"
    assert report.records(["one", "two"]) == ["- one", "- two"]


def test_the_page_shows_every_hostile_server_case_with_its_bound_and_extra():
    hostile = report._load("hostile.cases")  # the module test_bounds.py is parametrized from
    page = report.render()
    assert "## Hostile servers" in page
    for case in hostile.HOSTILE:
        row = [case.id, case.what, case.bound, case.default, case.extra, case.outcome]
        assert " | ".join(report.cell(value) for value in row) + " |" in page, case.id
