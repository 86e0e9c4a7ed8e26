"""The requests-specific pieces of the sync transport, kept apart so the hook reads as the protocol.

What counts as transient or ambiguous is decided on requests' own exception types here; the async hook
has its httpx counterparts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import requests
import urllib3

from airflow_provider_canvas.wire.errors import is_throttle
from airflow_provider_canvas.wire.limits import ERROR_BODY_LIMIT, BodyReader, decode_text
from airflow_provider_canvas.wire.throttle import rate_limit_value

CHUNK_SIZE = 64 * 1024

__all__ = [
    "BearerAuth",
    "Outcome",
    "header_float",
    "is_ambiguous",
    "is_transient",
    "read_body",
    "resolve_verify",
]


class BearerAuth(requests.auth.AuthBase):
    """Bearer auth as a requests auth object, so ``~/.netrc`` can never replace it and reprs stay clean."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(<redacted>)"


@dataclass
class Outcome:
    """One attempt's answer; looks like a response to the retry policy (status, headers, text).

    The body was read by :func:`read_body` (bounded) before the outcome exists; ``data`` is its JSON.
    """

    response: requests.Response
    body: bytes = b""
    data: Any = None

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self.response.headers

    @cached_property
    def text(self) -> str:
        return decode_text(self.body, self.response.encoding)


def read_body(response: requests.Response, limit: int) -> bytes:
    """Read a streamed answer's body through the shared :class:`BodyReader` (decoded size counted).

    Error answers are only read as far as Canvas's message can reach (``ERROR_BODY_LIMIT``). The body is
    stored on the response as well, so ``.json()``/``.text`` work for callers of ``CanvasHook.request``.
    """
    ok = 200 <= response.status_code < 300
    reader = BodyReader(
        response.headers.get("Content-Encoding"),
        limit if ok else min(limit, ERROR_BODY_LIMIT),
        truncate=not ok,
    )
    try:
        for chunk in response.raw.stream(CHUNK_SIZE, decode_content=False):
            reader.feed(chunk)
            if reader.full:
                break
    except urllib3.exceptions.ReadTimeoutError:
        raise requests.exceptions.ReadTimeout("read timed out") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:  # a dropped or broken body: worth a retry
        raise requests.exceptions.ChunkedEncodingError(type(exc).__name__) from None
    body = reader.body()
    response._content = body
    response._content_consumed = True  # type: ignore[attr-defined]
    return body


def resolve_verify(verify: bool | str) -> bool | str:
    """What requests itself would verify against: a CA bundle from the environment unless told otherwise."""
    if verify is True:
        return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return verify


def header_float(response: requests.Response, name: str) -> float | None:
    return rate_limit_value(response.headers.get(name))


def is_transient(exc: BaseException) -> bool:
    """Network failures worth another attempt; a TLS failure is a configuration problem, not bad luck."""
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    return isinstance(
        exc,
        (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ),
    )


def is_ambiguous(exc: BaseException | None, response: Outcome | None) -> bool:
    """Could Canvas have acted on a request whose attempt failed like this?

    A throttled request never reached the application and a connect timeout never left the client;
    anything else (read timeout, dropped connection, 5xx, bad body) may have been processed.
    """
    if exc is not None:
        return not isinstance(exc, requests.exceptions.ConnectTimeout)
    return response is not None and not is_throttle(response.status_code, response.text)
