"""The hostile-server catalogue, as plain data: what the server does, the bound that holds, its default.

``tests/hostile/test_bounds.py`` runs every case against every call it applies to (the sync hook, the
async hook, the trigger, and both bulk calls); ``scripts/reliability_report.py`` renders the list into the
"Hostile servers" table of ``docs/reliability.md``. Each case's server is hostile only to user 7: user 8
gets ordinary answers, so the bulk calls show that one hostile answer costs one item, not the iterator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_canvas.wire.backoff import RetryPolicy
from airflow_provider_canvas.wire.config import (
    DEFAULT_MAX_PAGES,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_PER_PAGE,
    DEFAULT_TIMEOUT,
)
from hostile.server import Conn, Request, send_endless_chunked, send_gzip_bomb

__all__ = ["CALLS", "HOSTILE", "Hostile", "channel", "ordinary"]

HOSTILE_USER, ORDINARY_USER = 7, 8
GET_CALLS = ("hook", "async hook", "trigger", "bulk listing")
CALLS = (*GET_CALLS, "bulk apply")
BOMB_DECODED = 100 * 1024**3  # 100 GiB once decoded, about 100 MB on the wire, sent until the client hangs up


def channel(user: int, number: int = 1, state: str = "active") -> dict[str, Any]:
    return {
        "id": user * 100 + number,
        "user_id": user,
        "type": "email",
        "address": f"u{user}-{number}@example.edu",
        "workflow_state": state,
        "position": number,
    }


def ordinary(request: Request, conn: Conn, headers: list[tuple[str, str]] | None = None) -> None:
    """What Canvas would answer: a page of one channel, or the created channel."""
    user = int(request.path.split("/")[4]) if request.path.startswith("/api/v1/users/") else 0
    if request.method == "POST":
        conn.answer(200, channel(user, 9, "unconfirmed"), headers or [])
    else:
        conn.answer(200, [channel(user)], headers or [])


def for_user_7(hostile: Callable[[Request, Conn], None]) -> Callable[[Request, Conn], None]:
    def behaviour(request: Request, conn: Conn) -> None:
        if f"/users/{HOSTILE_USER}/" in request.path + "/":
            hostile(request, conn)
        else:
            ordinary(request, conn)

    return behaviour


# ----- the behaviours ----------------------------------------------------------------------------------


def gzip_bomb(request: Request, conn: Conn) -> None:
    send_gzip_bomb(conn, BOMB_DECODED)


def endless_body(request: Request, conn: Conn) -> None:
    send_endless_chunked(conn)


def million_items(request: Request, conn: Conn) -> None:
    """One page of 1,000,000 channels (about 110 MB of JSON), streamed, when 100 were asked for."""
    conn.head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
    conn.chunk(b"[")
    item = json_bytes(channel(HOSTILE_USER))
    block = b",".join([item] * 1000)
    for number in range(1000):
        conn.chunk((b"," if number else b"") + block)
    conn.chunk(b"]")
    conn.send(b"0\r\n\r\n")


def one_too_many(request: Request, conn: Conn) -> None:
    per_page = int(request.query.get("per_page", DEFAULT_PER_PAGE))
    conn.answer(200, [channel(HOSTILE_USER, n) for n in range(1, per_page + 2)])


def drip_body(request: Request, conn: Conn) -> None:
    conn.head(200, [("Content-Type", "application/json"), ("Content-Length", "1000")])
    conn.drip(b"[" + b" " * 998 + b"]", 0.1)


def drip_headers(request: Request, conn: Conn) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\nX-Drip: ")
    conn.drip(b"a" * 60000, 0.1)


def endless_pages(request: Request, conn: Conn) -> None:
    """Every page holds one channel and links to a next page never seen before (100,000 of them)."""
    page = int(request.query.get("page", "1"))
    link = f'<http://{request.headers["host"]}{request.path}?page={page + 1}&per_page=1>; rel="next"'
    conn.answer(200, [channel(HOSTILE_USER, page)], [("Link", link)] if page < 100_000 else [])


def nesting_bomb(request: Request, conn: Conn) -> None:
    conn.answer(200, raw=b"[" * 200_000)


def odd_rate_limit_headers(value: str) -> Callable[[Request, Conn], None]:
    def behaviour(request: Request, conn: Conn) -> None:
        ordinary(request, conn, [("X-Rate-Limit-Remaining", value), ("X-Request-Cost", value)])

    return behaviour


def retry_after_300(request: Request, conn: Conn) -> None:
    conn.answer(503, {"errors": [{"message": "Service Unavailable"}]}, [("Retry-After", "300")])


def json_bytes(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()


# ----- the catalogue -----------------------------------------------------------------------------------


def _mib(size: int) -> str:
    return f"{size // 1024**2} MiB"


@dataclass(frozen=True)
class Hostile:
    """One hostile behaviour and the bound that holds against it.

    **what** the server does (to user 7's requests); **bound** what the client guarantees whatever it
    does; **default** the bound's default and **extra** the connection extra that sets it; **outcome** what
    every call that meets it gets: a typed error (in the bulk calls as that item's value, in the trigger as
    an error event) whose message names the extra, or "works" when the answer is used as if the odd part
    were absent.
    """

    id: str
    what: str
    bound: str
    default: str
    extra: str
    outcome: str
    behaviour: Callable[[Request, Conn], None] = field(repr=False)
    settings: dict[str, Any] = field(default_factory=dict, repr=False)  # the test's small limits
    calls: tuple[str, ...] = field(default=CALLS, repr=False)
    says: str = field(default="", repr=False)  # a fragment every error message holds
    seconds: float = field(default=10.0, repr=False)  # the most one call may take in the test


HOSTILE: list[Hostile] = [
    Hostile(
        "gzip bomb",
        "gzip bomb: about 100 MB on the wire that decode to 100 GiB (multi-member), sent until the client "
        "hangs up",
        "decoded bytes held at most max_response_bytes, counted while streaming; each decompression step "
        "yields at most 64 KiB",
        _mib(DEFAULT_MAX_RESPONSE_BYTES),
        "max_response_bytes",
        "CanvasResponseError",
        for_user_7(gzip_bomb),
        {"max_response_bytes": 64 * 1024},
        says="max_response_bytes",
    ),
    Hostile(
        "endless body",
        "an endless chunked body (a JSON list of zeros that never closes)",
        "bytes read at most max_response_bytes",
        _mib(DEFAULT_MAX_RESPONSE_BYTES),
        "max_response_bytes",
        "CanvasResponseError",
        for_user_7(endless_body),
        {"max_response_bytes": 256 * 1024},
        says="max_response_bytes",
    ),
    Hostile(
        "million items",
        "one page of 1,000,000 channels (about 110 MB) when 100 were asked for",
        "bytes read at most max_response_bytes",
        _mib(DEFAULT_MAX_RESPONSE_BYTES),
        "max_response_bytes",
        "CanvasResponseError",
        for_user_7(million_items),
        calls=GET_CALLS,
        says="max_response_bytes",
        seconds=15.0,
    ),
    Hostile(
        "page too long",
        "a page with one item more than per_page asked for",
        "a page holds at most per_page items, or the listing fails",
        str(DEFAULT_PER_PAGE),
        "per_page",
        "CanvasResponseError",
        for_user_7(one_too_many),
        {"per_page": 5},
        calls=GET_CALLS,
        says="per_page=5",
    ),
    Hostile(
        "drip body",
        "a body dripped at 10 bytes a second",
        "each attempt (connect, headers and the whole body) ends within timeout",
        f"{DEFAULT_TIMEOUT:g} s",
        "timeout",
        "CanvasTimeoutError",
        for_user_7(drip_body),
        {"timeout": 1},
        says="within 1s",
        seconds=4.0,
    ),
    Hostile(
        "drip headers",
        "headers dripped at 10 bytes a second",
        "each attempt (connect, headers and the whole body) ends within timeout",
        f"{DEFAULT_TIMEOUT:g} s",
        "timeout",
        "CanvasTimeoutError",
        for_user_7(drip_headers),
        {"timeout": 1},
        says="within 1s",
        seconds=4.0,
    ),
    Hostile(
        "endless pages",
        "100,000 pages, each with a new next link on the same origin",
        "pages per listing at most max_pages",
        f"{DEFAULT_MAX_PAGES:,}",
        "max_pages",
        "CanvasResponseError",
        for_user_7(endless_pages),
        {"max_pages": 20},
        calls=GET_CALLS,
        says="max_pages",
    ),
    Hostile(
        "nesting bomb",
        "JSON nested 200,000 deep (200 KB of opening brackets)",
        "refused as soon as it passes what Python's parser can follow, never a raw RecursionError",
        "Python's recursion limit",
        "none",
        "CanvasResponseError",
        for_user_7(nesting_bomb),
        says="nested deeper",
    ),
    *(
        Hostile(
            f"rate limit {value}",
            f"X-Rate-Limit-Remaining and X-Request-Cost: {value}",
            "ignored as absent; the process-wide governor keeps working",
            "none",
            "none",
            "works",
            for_user_7(odd_rate_limit_headers(value)),
        )
        for value in ("nan", "inf", "-inf", "1e999", "-5", "garbage")
    ),
    Hostile(
        "retry-after 300",
        "503 with Retry-After: 300 on every attempt",
        f"each wait at most {RetryPolicy().max_retry_after:g} s; all waits of one call at most max_retry_wait",
        f"{DEFAULT_MAX_RETRY_WAIT:g} s",
        "max_retry_wait",
        "CanvasServerError",
        for_user_7(retry_after_300),
        {"max_retries": 20, "max_retry_wait": 1},
        says="max_retry_wait",
        seconds=3.0,
    ),
]
