"""Turning a Canvas error answer into one typed exception carrying Canvas's own words.

Canvas answers errors in five JSON shapes plus plain text (throttling); every one of them is read,
so the message a DAG author sees is Canvas's message, never a bare status code.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin

from airflow_provider_canvas.exceptions import (
    CanvasAuthenticationError,
    CanvasConnectionError,
    CanvasDuplicateChannelError,
    CanvasError,
    CanvasNotFoundError,
    CanvasPermissionError,
    CanvasRateLimitError,
    CanvasResponseError,
    CanvasServerError,
    CanvasTimeoutError,
    CanvasTLSError,
    CanvasValidationError,
)
from airflow_provider_canvas.wire.urls import origin, safe_url

__all__ = [
    "check_answer",
    "error_class_for",
    "error_from_response",
    "find_ssl_error",
    "is_throttle",
    "no_answer_error",
    "parse_error_messages",
    "require_list",
    "tls_error",
    "unreadable_body_error",
]

Redact = Callable[[str], str]
THROTTLE_MARKER = "rate limit exceeded"
MAX_MESSAGES = 20
MAX_MESSAGE_LENGTH = 300


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def is_throttle(status: int, body: str) -> bool:
    """Canvas throttles with 403 and a plain-text "Rate Limit Exceeded" body; its docs now also say 429."""
    return status == 429 or (status == 403 and THROTTLE_MARKER in body.lower())


def _same(text: str) -> str:
    return text


def _loads(text: str) -> Any:
    """JSON or None; a nesting bomb is just not JSON here (an error body only ever yields messages)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[:MAX_MESSAGE_LENGTH] + "..."


def _messages_from(errors: Any) -> list[str]:
    messages: list[str] = []
    if isinstance(errors, str):  # {"errors": "Invalid as_user_id"}
        messages.append(errors)
    elif isinstance(errors, list):  # [{"message": ...}, ...]
        for item in errors:
            if isinstance(item, Mapping) and item.get("message"):
                messages.append(str(item["message"]))
            elif isinstance(item, str):
                messages.append(item)
    elif isinstance(errors, Mapping):  # {"attr": [{"attribute","type","message"}]} or {"type": "text"}
        for attribute, detail in errors.items():
            if isinstance(detail, str):
                messages.append(detail)
                continue
            for item in detail if isinstance(detail, list) else [detail]:
                if isinstance(item, Mapping):
                    text = item.get("message") or item.get("type")
                    if text:
                        messages.append(f"{attribute}: {text}")
                elif isinstance(item, str):
                    messages.append(f"{attribute}: {item}")
    return messages


def parse_error_messages(body: str, content_type: str | None = None, *, redact: Redact = _same) -> list[str]:
    """Canvas's human messages from any of its error shapes; plain text is returned as one message.

    ``redact`` scrubs each message before it is clipped, so no part of a secret survives the cut.
    """
    text = body.strip()
    if not text:
        return []
    data: Any = _loads(text) if text[0] in "{[" else None
    if data is None:
        if content_type and "html" in content_type.lower():
            return []  # a proxy's error page says nothing a DAG author can act on
        return [_clip(redact(text))]
    messages: list[str] = []
    if isinstance(data, Mapping):
        messages = _messages_from(data.get("errors"))
        if not messages and data.get("message"):
            messages = [str(data["message"])]
        if not messages and isinstance(data.get("status"), str):
            messages = [data["status"]]
    elif isinstance(data, list):
        messages = _messages_from(data)
    return [_clip(redact(message)) for message in messages[:MAX_MESSAGES]]


def _is_duplicate(body: str) -> bool:
    data = _loads(body)
    errors = data.get("errors") if isinstance(data, Mapping) else None
    if not isinstance(errors, Mapping):
        return False
    for detail in errors.values():
        for item in detail if isinstance(detail, list) else []:
            if isinstance(item, Mapping) and "unique!" in (item.get("type"), item.get("message")):
                return True
    return False


def error_class_for(status: int, headers: Mapping[str, str], body: str) -> type[CanvasError]:
    if is_throttle(status, body):
        return CanvasRateLimitError
    if status == 401:
        return CanvasAuthenticationError if _header(headers, "www-authenticate") else CanvasPermissionError
    if status == 403:
        return CanvasPermissionError
    if status == 404:
        return CanvasNotFoundError
    if status == 400:
        return CanvasDuplicateChannelError if _is_duplicate(body) else CanvasValidationError
    if status >= 500:
        return CanvasServerError
    if 300 <= status < 400:
        return CanvasResponseError
    return CanvasError


def error_from_response(
    *,
    status: int,
    headers: Mapping[str, str],
    body: str,
    method: str,
    url: str,
    attempts: int = 1,
    ambiguous_retry: bool = False,
    redact: Redact = _same,
) -> CanvasError:
    """Build the typed error for a non-2xx answer; ``url`` must already be made safe by the caller."""
    cls = error_class_for(status, headers, body)
    messages = parse_error_messages(body, _header(headers, "content-type"), redact=redact)
    return cls(
        f"Canvas answered {status} to {method} {url}.",
        status_code=status,
        method=method,
        url=url,
        messages=messages,
        attempts=attempts,
        ambiguous_retry=ambiguous_retry,
    )


def check_answer(
    *,
    status: int,
    headers: Mapping[str, str],
    body: str,
    method: str,
    url: str,
    attempts: int = 1,
    ambiguous_retry: bool = False,
    redact: Redact = _same,
) -> None:
    """Raise the typed error for a final answer that is not 2xx; redirects are errors, never followed.

    Following a redirect would send the token to wherever ``Location`` points (a vanity domain, an
    http downgrade); the error names the new origin so the connection can be fixed instead.
    """
    if 200 <= status < 300:
        return
    where = redact(safe_url(url))
    if 300 <= status < 400:
        try:
            scheme, host, port = origin(urljoin(url, _header(headers, "location") or ""))
            target = redact(f"{scheme}://{host}:{port}")
        except ValueError:  # an unparseable Location (a bad IPv6 literal, say)
            target = "an unusable URL"
        raise CanvasResponseError(
            f"Canvas answered {status} to {method} {where}, redirecting to {target}. "
            "Redirects are not followed with the access token; if Canvas moved, set the connection's "
            "host to the new address.",
            status_code=status,
            method=method,
            url=where,
            attempts=attempts,
        )
    raise error_from_response(
        status=status,
        headers=headers,
        body=body,
        method=method,
        url=where,
        attempts=attempts,
        ambiguous_retry=ambiguous_retry,
        redact=redact,
    )


def require_list(data: Any, url: str) -> list:
    """A list endpoint's page; anything else means the URL is not what the caller thinks it is."""
    if not isinstance(data, list):
        raise CanvasResponseError(
            f"Canvas answered GET {safe_url(url)} with JSON {type(data).__name__}, not a list.",
            method="GET",
            url=safe_url(url),
        )
    return data


def unreadable_body_error(method: str, url: str, attempts: int) -> CanvasResponseError:
    """A 2xx whose body stayed empty, truncated or malformed through every retry."""
    return CanvasResponseError(
        f"Canvas answered {method} {safe_url(url)} with a body that is not valid JSON "
        "(empty, truncated or malformed).",
        method=method,
        url=safe_url(url),
        attempts=attempts,
    )


def no_answer_error(
    method: str, url: str, *, attempts: int, timeout: float | None = None, failure: str = ""
) -> CanvasConnectionError:
    """No usable answer after every retry: timed out (``timeout`` given) or unreachable (``failure``)."""
    if timeout is not None:
        summary = f"{method} {safe_url(url)} timed out (timeout {timeout:g}s per request)."
        return CanvasTimeoutError(summary, method=method, url=safe_url(url), attempts=attempts)
    summary = f"Could not reach Canvas for {method} {safe_url(url)}: {failure}."
    return CanvasConnectionError(summary, method=method, url=safe_url(url), attempts=attempts)


# OpenSSL's reasons when the bytes that came back were not TLS at all (plain HTTP on that port).
_NOT_TLS_REASONS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "HTTP_REQUEST",
        "HTTPS_PROXY_REQUEST",
        "UNKNOWN_PROTOCOL",
        "PACKET_LENGTH_TOO_LONG",
        "RECORD_LAYER_FAILURE",
        "UNEXPECTED_RECORD",
    }
)


def find_ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """The TLS library's own error somewhere in the chain requests, urllib3 or httpx wrapped it in.

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
            return current
        pending.extend(
            [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        )
    return None


def tls_error(method: str, url: str, attempts: int, error: ssl.SSLError | None) -> CanvasTLSError:
    """A TLS failure, told apart: a server that does not speak TLS there, or a certificate not trusted."""
    host = origin(url)[1]
    reason = str(
        getattr(error, "verify_message", None) or getattr(error, "reason", None) or "handshake failed"
    )
    if error is not None and not isinstance(error, ssl.SSLCertVerificationError):
        if getattr(error, "reason", None) in _NOT_TLS_REASONS:
            summary = (
                f"The server at {host}:{origin(url)[2]} did not answer TLS ({reason}): the URL says "
                "https://, but something else answers on that port. Is the scheme or the port wrong "
                "(plain http://)?"
            )
        else:
            summary = f"TLS with {host} failed: {reason}."
    else:
        summary = (
            f"TLS verification failed for {host}: {reason}. If Canvas uses a private certificate authority, "
            "set the connection's 'CA bundle path' (extra ca_bundle) to its PEM bundle."
        )
    return CanvasTLSError(summary, method=method, url=safe_url(url), attempts=attempts)
