"""The size, nesting and page limits shared by both transports (wire/limits.py, wire/links.py)."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest

from airflow_provider_canvas.exceptions import CanvasConnectionError, CanvasResponseError
from airflow_provider_canvas.wire.limits import (
    STEP,
    BodyReader,
    JSONTooDeep,
    ResponseTooLarge,
    UnsupportedEncoding,
    deadline_error,
    parse_json,
    too_deep_error,
    too_large_error,
)
from airflow_provider_canvas.wire.links import Pagination, requested_per_page

PAGE = json.dumps([{"id": n, "address": f"a{n}@example.edu"} for n in range(100)]).encode()
URL = "https://canvas.example.edu/api/v1/users/7/communication_channels?per_page=100"


def read(encoding: str | None, data: bytes, limit: int = 1 << 20, piece: int = 7, **kwargs) -> BodyReader:
    reader = BodyReader(encoding, limit, **kwargs)
    for start in range(0, len(data), piece):
        reader.feed(data[start : start + piece])
    return reader


@pytest.mark.parametrize(
    ("encoding", "wire"),
    [
        (None, PAGE),
        ("identity", PAGE),
        ("gzip", gzip.compress(PAGE)),
        ("x-gzip", gzip.compress(PAGE)),
        (" GZIP ", gzip.compress(PAGE)),
        ("deflate", zlib.compress(PAGE)),  # zlib-wrapped, as the standard says
        ("deflate", zlib.compress(PAGE)[2:-4]),  # raw deflate, as some servers send it
    ],
)
def test_bodies_decode_whatever_the_encoding_and_chunking(encoding, wire):
    assert read(encoding, wire).body() == PAGE


def test_multi_member_gzip_and_trailing_padding():
    wire = gzip.compress(b"[1,") + gzip.compress(b"2]") + b"\0" * 8
    assert read("gzip", wire, piece=3).body() == b"[1,2]"


def test_a_compression_bomb_is_refused_once_its_output_passes_the_limit():
    bomb = gzip.compress(b"\0" * (32 << 20), compresslevel=9)  # 32 MiB from about 32 KiB
    reader = BodyReader("gzip", 1 << 20)
    with pytest.raises(ResponseTooLarge) as info:
        reader.feed(bomb)  # all of it at once: still decoded in bounded steps
    assert info.value.limit == 1 << 20
    assert reader.body() == b""  # nothing kept


def test_each_decompression_step_is_bounded():
    """A single small chunk never expands in one go: the decoder is asked for at most STEP bytes."""
    bomb = gzip.compress(b"\0" * (8 << 20), compresslevel=9)
    sizes: list[int] = []
    reader = BodyReader("gzip", 64 << 20)
    keep = reader._keep

    def record(out: bytes) -> None:
        sizes.append(len(out))
        keep(out)

    reader._keep = record  # type: ignore[method-assign]
    reader.feed(bomb)
    assert sum(sizes) == 8 << 20
    assert max(sizes) <= STEP


def test_an_endless_run_of_empty_compressed_blocks_is_bounded_by_the_wire_size():
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    empty_block = compressor.compress(b"") + compressor.flush(zlib.Z_SYNC_FLUSH)
    reader = BodyReader("deflate", 64 * 1024)

    def endless() -> None:
        for _ in range(100_000):
            reader.feed(empty_block * 100)

    with pytest.raises(ResponseTooLarge):
        endless()
    assert reader.raw_bytes <= 64 * 1024 + 100 * len(empty_block)


def test_plain_bodies_are_refused_past_the_limit_and_error_bodies_are_truncated():
    with pytest.raises(ResponseTooLarge):
        read(None, b"x" * 2000, limit=1024, piece=100)
    reader = read(None, b"x" * 2000, limit=1024, piece=100, truncate=True)
    assert reader.full and reader.body() == b"x" * 1024


def test_an_encoding_that_was_not_asked_for_is_refused():
    with pytest.raises(UnsupportedEncoding):
        BodyReader("br", 1024)


def test_a_body_that_is_not_what_it_claims_is_kept_as_received():
    assert read("gzip", b'{"not": "gzip"}').body() == b'{"not": "gzip"}'


def test_json_nesting_bombs_are_typed_not_recursion_errors():
    with pytest.raises(JSONTooDeep):
        parse_json(b"[" * 200_000)
    with pytest.raises(ValueError):
        parse_json(b"[1,")
    assert parse_json(PAGE)[0]["id"] == 0


def test_limit_errors_name_the_limit_and_the_extra():
    too_large = too_large_error("GET", URL, 16 * 1024 * 1024)
    assert isinstance(too_large, CanvasResponseError)
    assert "16 MiB" in str(too_large) and "max_response_bytes (16777216)" in str(too_large)
    assert "per_page" not in str(too_large) and "?" not in str(too_large)  # no query string
    assert "65 KiB" not in str(too_large_error("GET", URL, 65 * 1024 + 1))
    timeout = deadline_error("POST", URL, timeout=2.5, attempts=3)
    assert isinstance(timeout, CanvasConnectionError)
    assert (
        "within 2.5s" in str(timeout)
        and "extra timeout" in str(timeout)
        and "(after 3 attempts)" in str(timeout)
    )
    assert "recursion limit" in str(too_deep_error("GET", URL))


def _walk(pages: Pagination, answers: list[tuple[list, dict]]) -> int:
    fetched = 0
    while pages.next_url:
        data, headers = answers[fetched]
        page = pages.accept(pages.next_url, data)
        pages.advance(pages.next_url, headers, page)
        fetched += 1
    return fetched


def _next(n: int) -> dict[str, str]:
    return {
        "Link": f'<https://canvas.example.edu/api/v1/users/7/communication_channels?page={n}>; rel="next"'
    }


def test_pagination_stops_at_max_pages_with_a_clear_error():
    pages = Pagination(URL, base_url="https://canvas.example.edu", per_page=100, max_pages=3)
    answers = [([{"id": n}], _next(n + 2)) for n in range(10)]
    with pytest.raises(CanvasResponseError, match=r"past 3 pages.*max_pages"):
        _walk(pages, answers)
    assert pages.pages == 3


def test_a_listing_of_exactly_max_pages_is_fine():
    pages = Pagination(URL, base_url="https://canvas.example.edu", per_page=100, max_pages=3)
    answers = [([{"id": 1}], _next(2)), ([{"id": 2}], _next(3)), ([{"id": 3}], {})]
    assert _walk(pages, answers) == 3


def test_a_page_longer_than_per_page_is_refused():
    pages = Pagination(URL, base_url="https://canvas.example.edu", per_page=2, max_pages=10)
    assert pages.accept(URL, [1, 2]) == [1, 2]
    with pytest.raises(CanvasResponseError, match=r"3 items on one page when per_page=2"):
        pages.accept(URL, [1, 2, 3])
    with pytest.raises(CanvasResponseError, match="not a list"):
        pages.accept(URL, {"errors": []})


@pytest.mark.parametrize(
    ("params", "expected"),
    [({"per_page": 50}, 50), ({"per_page": "7"}, 7), ({"per_page": "many"}, None), (None, None), ({}, None)],
)
def test_requested_per_page(params, expected):
    assert requested_per_page(params) == expected
