"""The requests-specific pieces of the sync transport, kept apart so the hook reads as the protocol.

What counts as transient or ambiguous is decided on requests' own exception types here; the async hook
has its httpx counterparts.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from airflow_provider_canvas.wire.errors import is_throttle
from airflow_provider_canvas.wire.throttle import rate_limit_value

__all__ = [
    "BearerAuth",
    "Outcome",
    "header_float",
    "is_ambiguous",
    "is_transient",
    "resolve_verify",
    "tls_reason",
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
    """One attempt's answer; looks like a response to the retry policy (status, headers, text)."""

    response: requests.Response
    data: Any = None

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self.response.headers

    @property
    def text(self) -> str:
        return self.response.text


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


def is_ambiguous(exc: BaseException | None, response: requests.Response | None) -> bool:
    """Could Canvas have acted on a request whose attempt failed like this?

    A throttled request never reached the application and a connect timeout never left the client;
    anything else (read timeout, dropped connection, 5xx, bad body) may have been processed.
    """
    if exc is not None:
        return not isinstance(exc, requests.exceptions.ConnectTimeout)
    return response is not None and not is_throttle(response.status_code, response.text)


def tls_reason(exc: BaseException) -> str:
    """The TLS library's own reason, found in the exception chain.

    Not ``str(exc)``: urllib3 puts the request path in it, and the path can hold an address.
    """
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return str(getattr(current, "verify_message", None) or current.reason or "TLS handshake failed")
        pending.extend(
            [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        )
    return "TLS handshake failed"
