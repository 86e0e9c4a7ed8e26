from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_canvas.wire.links import next_link, parse_link_header

CANVAS_HEADER = (
    '<https://canvas.example.edu/api/v1/users/1/communication_channels?page=2&per_page=2>; rel="current",'
    '<https://canvas.example.edu/api/v1/users/1/communication_channels?page=3&per_page=2>; rel="next",'
    '<https://canvas.example.edu/api/v1/users/1/communication_channels?page=1&per_page=2>; rel="prev",'
    '<https://canvas.example.edu/api/v1/users/1/communication_channels?page=1&per_page=2>; rel="first",'
    '<https://canvas.example.edu/api/v1/users/1/communication_channels?page=4&per_page=2>; rel="last"'
)


def test_canvas_format_without_spaces_after_commas():
    links = parse_link_header(CANVAS_HEADER)
    assert set(links) == {"current", "next", "prev", "first", "last"}
    assert links["next"].endswith("page=3&per_page=2")
    assert links["last"].endswith("page=4&per_page=2")


def test_rel_names_are_case_insensitive_and_may_be_unquoted_or_multiple():
    links = parse_link_header('<https://x/a>; REL=Next, <https://x/b>; rel="prev first"')
    assert links == {"next": "https://x/a", "prev": "https://x/b", "first": "https://x/b"}


def test_commas_inside_urls_do_not_split_entries():
    links = parse_link_header('<https://x/a?ids=1,2,3&page=2>; rel="next",<https://x/a?page=1>; rel="first"')
    assert links["next"] == "https://x/a?ids=1,2,3&page=2"


def test_first_entry_for_a_relation_wins_and_garbage_is_skipped():
    links = parse_link_header('garbage, <>; rel="next", <https://x/1>; rel="next", <https://x/2>; rel="next"')
    assert links == {"next": "https://x/1"}


def test_absent_or_empty_header():
    assert parse_link_header(None) == {}
    assert parse_link_header("") == {}
    assert next_link({}) is None


def test_next_link_finds_header_in_any_case():
    assert next_link({"LINK": '<https://x/2>; rel="next"'}) == "https://x/2"
    assert next_link({"link": '<https://x/2>; rel="current"'}) is None


_url_chars = string.ascii_letters + string.digits + "/:?&=%.-_~,;"
urls = st.text(alphabet=_url_chars, min_size=1, max_size=60).map(lambda s: "https://h/" + s)
rels = st.sampled_from(["next", "prev", "first", "last", "current"])


@given(st.lists(st.tuples(urls, rels), max_size=8))
def test_round_trip_of_any_well_formed_header(entries):
    header = ",".join(f'<{url}>; rel="{rel}"' for url, rel in entries)
    expected: dict[str, str] = {}
    for url, rel in entries:
        expected.setdefault(rel, url)
    assert parse_link_header(header) == expected


@given(st.text(max_size=300))
def test_never_raises_on_arbitrary_text(text):
    result = parse_link_header(text)
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in result.items())
