"""Reading the sync's input: SIS exports as they are, with line numbers for every bad row."""

from __future__ import annotations

import pytest

from airflow_provider_canvas.contact_sync.desired import load_desired, user_reference


def csv_file(tmp_path, text, name="export.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_an_sis_export_is_read_with_its_own_columns_and_a_prefix(tmp_path):
    path = csv_file(
        tmp_path,
        "\ufeffsis_user_id,name,email\n"
        "S001,Ann,ann@uni.edu\n"
        '00042,"Bob, Jr.",Bob@Uni.edu\n'  # numeric SIS id: still an SIS id, not Canvas user 42
        "sis_login_id:carol,Carol,carol@uni.edu\n"  # already prefixed: kept as it is
        "S001,Ann,ANN@uni.edu\n",  # same person, same address in another case: collapses
    )
    desired = load_desired(
        path, "email", user_id_column="sis_user_id", address_column="email", user_id_prefix="sis_user_id:"
    )
    assert list(desired.users) == ["sis_user_id:S001", "sis_user_id:00042", "sis_login_id:carol"]
    assert [w.address for w in desired.users["sis_user_id:00042"].values()] == ["Bob@Uni.edu"]
    assert (desired.rows, desired.duplicates, desired.addresses, desired.source) == (4, 1, 3, "export.csv")
    assert desired.users["sis_user_id:S001"]["ann@uni.edu"].line == 2


def test_bad_rows_are_reported_with_the_files_line_numbers_and_no_values(tmp_path):
    path = csv_file(
        tmp_path,
        "sis_user_id,email\n"
        "S001,ann@uni.edu\n"
        '"S002","multi\nline"\n'  # a quoted field spanning two lines: the row starts on line 3
        "S004,not-an-email\n"
        "\n"
        ",dan@uni.edu\n",
    )
    with pytest.raises(ValueError) as info:
        load_desired(
            path, "email", user_id_column="sis_user_id", address_column="email", user_id_prefix="sis_user_id:"
        )
    message = str(info.value)
    assert "has 3 bad row(s), nothing was changed" in message
    assert "line 3: email contains control characters" in message
    assert "line 5: email is not a plausible" in message
    assert "line 7: sis_user_id is empty" in message
    assert "not-an-email" not in message and "S004" not in message  # values stay out of logs


def test_bare_ids_without_a_prefix_get_a_hint(tmp_path):
    path = csv_file(tmp_path, "user_id,address\nS001,a@uni.edu\n")
    with pytest.raises(
        ValueError, match=r"line 2: user_id is not a Canvas user reference.*user_id_prefix='sis_user_id:'"
    ):
        load_desired(path, "email")


def test_missing_columns_name_what_was_found(tmp_path):
    path = csv_file(tmp_path, "student,mail\n1,a@uni.edu\n")
    with pytest.raises(
        ValueError, match=r"missing: user_id, address \(found: student, mail\).*user_id_column="
    ):
        load_desired(path, "email")


def test_column_names_match_case_insensitively(tmp_path):
    path = csv_file(tmp_path, "SIS_USER_ID,EMAIL\nS1,a@uni.edu\n")
    desired = load_desired(
        path, "email", user_id_column="sis_user_id", address_column="email", user_id_prefix="sis_user_id:"
    )
    assert list(desired.users) == ["sis_user_id:S1"]


def test_jsonl_rows_lists_and_mappings(tmp_path):
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"id": 5, "mail": "a@uni.edu"}\n\n{"id": "7", "mail": "b@uni.edu"}\n')
    desired = load_desired(str(jsonl), "email", user_id_column="id", address_column="mail")
    assert {ref: [w.line for w in ws.values()] for ref, ws in desired.users.items()} == {"5": [1], "7": [3]}
    rows = load_desired([{"user_id": 5, "address": "a@uni.edu"}], "email")
    assert list(rows.users) == ["5"]
    mapping = load_desired({"007": ["a@uni.edu", "b@uni.edu"]}, "email")
    assert list(mapping.users) == ["7"]  # numeric ids are normalised: 007 is user 7
    with pytest.raises(ValueError, match=r"row 1: needs the keys 'user_id' and 'address' \(got a list\)"):
        load_desired([["5", "a@uni.edu"]], "email")


def test_a_rendered_xcom_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="render_template_as_native_obj"):
        load_desired("[{'user_id': 1, 'address': 'a@uni.edu'}]", "email")


def test_unknown_files_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match=r"use a \.csv file"):
        load_desired(csv_file(tmp_path, "x", name="c.xlsx"), "email")
    with pytest.raises(ValueError, match="does not exist"):
        load_desired(str(tmp_path / "nope.csv"), "email")


def test_urls_go_through_the_reader(tmp_path):
    seen = []

    def read_text(url):
        seen.append(url)
        return "user_id,address\n5,a@uni.edu\n"

    desired = load_desired("s3://bucket/contacts.csv", "email", read_text=read_text)
    assert seen == ["s3://bucket/contacts.csv"] and list(desired.users) == ["5"]


@pytest.mark.parametrize(
    ("value", "prefix", "expected"),
    [
        (42, None, "42"),
        ("0042", None, "42"),
        ("0042", "sis_user_id:", "sis_user_id:0042"),
        ("self", None, "self"),
        ("sis_user_id:A", "sis_user_id:", "sis_user_id:A"),
        ("A:B", "sis_user_id:", "sis_user_id:A:B"),  # "A" is no Canvas prefix: the id contains a colon
    ],
)
def test_user_reference(value, prefix, expected):
    assert user_reference(value, prefix) == expected
