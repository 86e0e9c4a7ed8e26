"""What the client accepts from a server at most, for both transports: size, nesting, pages, time.

A broken proxy or a hostile host can answer with a compression bomb, an endless body, a page of a million
items, JSON nested 100,000 deep or pagination that never ends. Each is refused here with a typed error
that names the limit and the connection extra that sets it. The transports only feed bytes in: bodies are
decoded by :class:`BodyReader` chunk by chunk with a bounded output per step, so neither the compressed
nor the decoded size can run past the limit in memory.
"""

from __future__ import annotations

import gc
import json
import zlib
from typing import Any

from airflow_provider_canvas.exceptions import CanvasResponseError, CanvasTimeoutError, plural
from airflow_provider_canvas.wire.urls import safe_url

__all__ = [
    "ACCEPT_ENCODING",
    "ERROR_BODY_LIMIT",
    "BodyReader",
    "DeadlineExceeded",
    "ResponseTooLarge",
    "deadline_error",
    "decode_text",
    "oversized_page_error",
    "parse_json",
    "too_deep_error",
    "too_large_error",
    "too_many_pages_error",
    "unsupported_encoding_error",
]

# What both transports ask for: encodings :class:`BodyReader` decodes with a bounded output.
ACCEPT_ENCODING = "gzip, deflate"
# An error answer is only read for Canvas's message; the rest of a large one is left unread.
ERROR_BODY_LIMIT = 64 * 1024
STEP = 64 * 1024  # most decoded bytes produced by one decompression step


class ResponseTooLarge(Exception):
    """The answer's body passed the limit while it was read; nothing past the limit was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class UnsupportedEncoding(Exception):
    """The server compressed the answer with an encoding that was not asked for."""


class DeadlineExceeded(Exception):
    """The attempt (connect, headers and body) did not finish within the connection's timeout."""


class _Identity:
    eof = False
    unconsumed_tail = unused_data = b""

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        return data


class _Discard(_Identity):
    """After the compressed stream ended: trailing bytes (padding, garbage) are dropped, as urllib3 does."""

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        return b""


def _decoder(encoding: str, first: bytes) -> Any:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    # "deflate" is zlib-wrapped by the standard, raw by some servers: the first byte tells them apart.
    wbits = zlib.MAX_WBITS if first[:1] and (first[0] & 0x0F) == 8 else -zlib.MAX_WBITS
    return zlib.decompressobj(wbits)


class BodyReader:
    """Collects one answer's body, decoding ``Content-Encoding`` itself, and refuses it past ``limit``.

    Both the bytes on the wire and the decoded bytes count against the limit: a compression bomb stops
    when its output passes it, and an endless run of empty compressed blocks when its input does. Each
    decompression step yields at most 64 KiB, so a small compressed chunk never expands in one go.
    ``truncate=True`` (error answers) stops quietly at the limit instead of raising.
    """

    def __init__(self, content_encoding: str | None, limit: int, *, truncate: bool = False) -> None:
        encoding = (content_encoding or "identity").strip().lower()
        if encoding not in ("identity", "", "gzip", "x-gzip", "deflate"):
            raise UnsupportedEncoding(encoding)
        self.encoding = encoding
        self.limit = limit
        self.truncate = truncate
        self.raw_bytes = 0
        self.full = False  # truncate mode: the limit was reached, the rest is to be left unread
        self._parts: list[bytes] = []
        self._size = 0
        self._members = 0
        self._decoder: Any = _Identity() if encoding in ("identity", "") else None

    def feed(self, data: bytes) -> None:
        if self.full or not data:
            return
        self.raw_bytes += len(data)
        pending, drain = data, False
        while (pending or drain) and not self.full:
            if self._decoder is None:
                if not pending:
                    break
                self._decoder = _decoder(self.encoding, pending)
                self._members += 1
            try:
                out = self._decoder.decompress(pending, STEP)
            except zlib.error:
                if self._members > 1:  # garbage after a complete gzip member
                    self._decoder, pending, drain = _Discard(), b"", False
                    continue
                # Not compressed after all: kept as received; JSON decoding will call it unreadable.
                out, pending, self._decoder = pending, b"", _Identity()
            else:
                if self._decoder.eof:  # the member ended; gzip may have another one after it
                    pending = self._decoder.unused_data
                    self._decoder = None if self.encoding in ("gzip", "x-gzip") else _Discard()
                else:
                    pending = self._decoder.unconsumed_tail
            # A full step may leave output inside zlib with no input left: ask again until it runs dry.
            drain = len(out) == STEP and not pending
            self._keep(out)
        if self.raw_bytes > self.limit:
            self._over()

    def _keep(self, out: bytes) -> None:
        room = self.limit - self._size
        if len(out) > room:
            self._parts.append(out[: max(room, 0)])
            self._size = self.limit
            self._over()
            return
        if out:
            self._parts.append(out)
            self._size += len(out)

    def _over(self) -> None:
        if not self.truncate:
            self._parts.clear()
            raise ResponseTooLarge(self.limit)
        self.full = True

    def body(self) -> bytes:
        return b"".join(self._parts)


def decode_text(body: bytes, charset: str | None) -> str:
    """The body as text for error messages and throttle detection (UTF-8 unless the answer says else)."""
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name
        return body.decode("utf-8", errors="replace")


class JSONTooDeep(Exception):
    """Valid-looking JSON nested deeper than Python's parser can follow (a nesting bomb)."""


def parse_json(body: bytes) -> Any:
    """Decode a JSON body; ``ValueError`` when it is not JSON, :class:`JSONTooDeep` when nested too deep.

    The garbage collector is held off while the parser may be at the recursion limit: finalizers it would
    run there (an unclosed socket's warning, say) could not even format their own traceback.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return json.loads(body)
    except RecursionError:
        raise JSONTooDeep() from None
    finally:
        if collecting:
            gc.enable()


def _where(method: str, url: str) -> str:
    return f"{method} {safe_url(url)}"


def _size(limit: int) -> str:
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return plural(limit, "byte")


def too_large_error(method: str, url: str, limit: int, attempts: int = 1) -> CanvasResponseError:
    return CanvasResponseError(
        f"Canvas's answer to {_where(method, url)} is larger than {_size(limit)} once decoded, the limit "
        f"set by the connection extra max_response_bytes ({limit}); it was refused without being read "
        "to the end. Raise max_response_bytes only if real answers are this large.",
        method=method,
        url=safe_url(url),
        attempts=attempts,
    )


def unsupported_encoding_error(method: str, url: str, encoding: str) -> CanvasResponseError:
    return CanvasResponseError(
        f"Canvas answered {_where(method, url)} compressed as {encoding[:40]!r}, which was not asked for "
        f"(Accept-Encoding: {ACCEPT_ENCODING}); refused.",
        method=method,
        url=safe_url(url),
    )


def too_deep_error(method: str, url: str) -> CanvasResponseError:
    return CanvasResponseError(
        f"Canvas answered {_where(method, url)} with JSON nested deeper than the parser can follow "
        "(Python's recursion limit); refused as a broken or hostile answer.",
        method=method,
        url=safe_url(url),
    )


def deadline_error(method: str, url: str, *, timeout: float, attempts: int) -> CanvasTimeoutError:
    return CanvasTimeoutError(
        f"{_where(method, url)} timed out: no complete answer within {timeout:g}s (the connection extra "
        "timeout bounds each attempt: connect, headers and the whole body).",
        method=method,
        url=safe_url(url),
        attempts=attempts,
    )


def too_many_pages_error(url: str, max_pages: int) -> CanvasResponseError:
    return CanvasResponseError(
        f"Canvas's pagination for GET {safe_url(url)} went on past {plural(max_pages, 'page')}, the limit "
        "set by the connection extra max_pages; stopped instead of returning part of the list. Raise "
        "max_pages only if a real listing is this long.",
        method="GET",
        url=safe_url(url),
    )


def oversized_page_error(url: str, items: int, per_page: int) -> CanvasResponseError:
    return CanvasResponseError(
        f"Canvas answered GET {safe_url(url)} with {plural(items, 'item')} on one page when per_page="
        f"{per_page} was asked for (the connection extra per_page); refused as a broken answer.",
        method="GET",
        url=safe_url(url),
    )
