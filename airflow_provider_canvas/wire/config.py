"""Reading a ``canvas`` connection into settings, refusing anything unsafe before a request exists.

Values arrive typed from the UI form and the JSON env-var form but as strings from URI connections and
some secrets backends, so every extra is coerced, range-checked and named in its error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_canvas import get_provider_info
from airflow_provider_canvas.exceptions import CanvasConfigurationError
from airflow_provider_canvas.wire.urls import API_PREFIX, is_loopback_host

__all__ = [
    "DEFAULT_CONN_ID",
    "KNOWN_EXTRAS",
    "CanvasConnectionSettings",
    "connection_prefix",
    "normalize_base_url",
    "parse_connection",
]

DEFAULT_CONN_ID = "canvas_default"
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 100
DEFAULT_TIMEOUT = 30.0
MIN_TIMEOUT = 0.1
MAX_TIMEOUT = 3600.0
DEFAULT_MAX_RETRIES = 5
MAX_RETRIES_LIMIT = 20
DEFAULT_MAX_CONCURRENCY = 16
MAX_CONCURRENCY_LIMIT = 64
# Bounds against a broken or hostile server (see wire/limits.py): far above anything real Canvas sends.
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # decoded; a page of 100 channels is about 40 KiB
MAX_RESPONSE_BYTES_RANGE = (1024, 1024**3)
DEFAULT_MAX_PAGES = 1000  # pages per listing: Canvas keeps a user to 100 channels, one page
MAX_PAGES_LIMIT = 1_000_000
DEFAULT_MAX_RETRY_WAIT = 300.0  # seconds of waiting between retries, per call, in total
MAX_RETRY_WAIT_LIMIT = 3600.0
KNOWN_EXTRAS = (
    "per_page",
    "timeout",
    "max_retries",
    "verify",
    "ca_bundle",
    "allow_insecure_http",
    "max_concurrency",
    "max_response_bytes",
    "max_pages",
    "max_retry_wait",
)
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class CanvasConnectionSettings:
    """A ``canvas`` connection, parsed and checked (``CanvasHook.settings``); the fields are the form's.

    :ivar base_url: the normalised Canvas URL, without ``/api/v1``.
    :ivar token: the access token (left out of ``repr``).
    :ivar per_page: items per page when listing.
    :ivar timeout: seconds per request, for connecting and for reading.
    :ivar max_retries: retries after the first attempt.
    :ivar verify: TLS verification: True, False, or a CA bundle path.
    :ivar allow_insecure_http: plain http to a non-loopback host is allowed.
    :ivar max_concurrency: the most requests the bulk calls keep in flight.
    :ivar ignored_extras: unknown extra names, ignored with a warning.
    """

    base_url: str
    token: str = field(repr=False)
    per_page: int = DEFAULT_PER_PAGE
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    verify: bool | str = True
    allow_insecure_http: bool = False
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_pages: int = DEFAULT_MAX_PAGES
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
    ignored_extras: tuple[str, ...] = ()


def _form_labels() -> dict[str, str]:
    (connection,) = get_provider_info()["connection-types"]
    return {name: field["label"] for name, field in connection["conn-fields"].items()}


# Messages name a field as the UI form shows it, then the extra's key for JSON and secrets-backend users.
_LABELS = _form_labels()


def _field(name: str) -> str:
    return f"{_LABELS[name]!r} (extra {name})" if name in _LABELS else f"extra {name!r}"


def connection_prefix(conn_id: str | None) -> str:
    """``Connection 'x': `` for messages; empty when the id would mean nothing (Airflow's Test button)."""
    return f"Connection {conn_id!r}: " if conn_id else ""


def _error(conn_id: str | None, message: str) -> CanvasConfigurationError:
    if not conn_id:
        message = message[:1].upper() + message[1:]
    return CanvasConfigurationError(connection_prefix(conn_id) + message)


def normalize_base_url(
    host: str | None,
    *,
    port: int | None = None,
    allow_insecure_http: bool = False,
    conn_id: str | None = "canvas",
) -> str:
    """``https://canvas.example.edu`` from the forms people paste (trailing ``/``, ``/api/v1``, no scheme)."""
    if not host or not host.strip():
        raise _error(
            conn_id,
            "no host. Set 'Canvas URL' (host) to your Canvas address, e.g. https://canvas.example.edu.",
        )
    text = host.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _error(conn_id, f"host scheme {parts.scheme!r} is not supported; use https://.")
    if parts.username or parts.password:
        raise _error(
            conn_id, "host must not contain credentials; put the token in 'Access Token' (password)."
        )
    if parts.query or parts.fragment:
        raise _error(
            conn_id, "host must not contain a query string or fragment; give only the Canvas base URL."
        )
    if not parts.hostname:
        raise _error(conn_id, f"host {host!r} has no host name; use e.g. https://canvas.example.edu.")
    path = parts.path.rstrip("/")
    if path not in ("", API_PREFIX):
        raise _error(
            conn_id,
            f"host has a path ({parts.path!r}); give the Canvas base URL without a path, e.g. "
            "https://canvas.example.edu (a trailing /api/v1 is also accepted).",
        )
    try:
        explicit_port = parts.port
    except ValueError:
        raise _error(conn_id, f"host {host!r} has an invalid port.") from None
    netloc_host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    port = explicit_port or port
    if port == {"https": 443, "http": 80}[scheme]:
        port = None  # https://canvas.example.edu, not ...:443 (a port kept for the 3.3 Test button, say)
    if scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise _error(
            conn_id,
            "host uses plain http://, which would send the access token unencrypted. Use https://, or "
            f"turn on {_field('allow_insecure_http')} if you really mean it.",
        )
    return f"{scheme}://{netloc_host}" + (f":{port}" if port else "")


def _as_bool(conn_id: str | None, name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _error(conn_id, f"{_field(name)} must be true or false; got {value!r}.")


def _as_int(conn_id: str | None, name: str, value: Any, low: int, high: int) -> int:
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        number = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise _error(
            conn_id, f"{_field(name)} must be a whole number from {low} to {high}; got {value!r}."
        ) from None
    if not low <= number <= high:
        raise _error(conn_id, f"{_field(name)} must be from {low} to {high}; got {number}.")
    return number


def _as_seconds(conn_id: str | None, name: str, value: Any, low: float, high: float) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise _error(conn_id, f"{_field(name)} must be a number of seconds; got {value!r}.") from None
    if not low <= number <= high:  # NaN fails this too
        raise _error(
            conn_id,
            f"{_field(name)} must be at least {low:g} and at most {high:g} seconds; got {value!r}.",
        )
    return number


def _as_verify(conn_id: str | None, value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        # A CA bundle path here is the older spelling of ca_bundle, still read for existing connections.
        if os.path.exists(value.strip()):
            return value.strip()
        raise _error(
            conn_id,
            f"{_field('verify')} must be true or false (for a private CA, set {_LABELS['ca_bundle']!r}); "
            f"got {value!r}.",
        )
    raise _error(conn_id, f"{_field('verify')} must be true or false; got {value!r}.")


def _as_ca_bundle(conn_id: str | None, value: Any, verify: bool | str) -> str:
    path = value.strip() if isinstance(value, str) else ""
    if not path or not os.path.isabs(path):
        raise _error(conn_id, f"{_field('ca_bundle')} must be an absolute file path; got {value!r}.")
    if verify is False:
        raise _error(
            conn_id,
            f"{_field('ca_bundle')} is set but {_field('verify')} is false, so it would be ignored. Set "
            f"{_LABELS['verify']!r} to true to check certificates against the bundle, or clear the path.",
        )
    if not os.path.isfile(path):
        raise _error(conn_id, f"{_field('ca_bundle')} {path!r} is not a file on this machine.")
    return path


def parse_connection(
    *,
    conn_id: str | None,
    host: str | None,
    password: str | None,
    extra: Mapping[str, Any],
    port: int | None = None,
) -> CanvasConnectionSettings:
    """Settings from a connection's fields; ``conn_id`` None leaves the id out of messages."""

    def given(name: str) -> bool:
        return extra.get(name) not in (None, "")

    allow_http = (
        _as_bool(conn_id, "allow_insecure_http", extra["allow_insecure_http"])
        if given("allow_insecure_http")
        else False
    )
    base_url = normalize_base_url(host, port=port, allow_insecure_http=allow_http, conn_id=conn_id)
    verify = _as_verify(conn_id, extra["verify"]) if given("verify") else True
    if given("ca_bundle"):
        verify = _as_ca_bundle(conn_id, extra["ca_bundle"], verify)
    if not password or not password.strip():
        raise _error(conn_id, "the Access Token (password) is empty. Paste a Canvas access token into it.")
    return CanvasConnectionSettings(
        base_url=base_url,
        token=password.strip(),
        per_page=_as_int(conn_id, "per_page", extra["per_page"], 1, MAX_PER_PAGE)
        if given("per_page")
        else DEFAULT_PER_PAGE,
        timeout=_as_seconds(conn_id, "timeout", extra["timeout"], MIN_TIMEOUT, MAX_TIMEOUT)
        if given("timeout")
        else DEFAULT_TIMEOUT,
        max_retries=_as_int(conn_id, "max_retries", extra["max_retries"], 0, MAX_RETRIES_LIMIT)
        if given("max_retries")
        else DEFAULT_MAX_RETRIES,
        verify=verify,
        allow_insecure_http=allow_http,
        max_concurrency=_as_int(
            conn_id, "max_concurrency", extra["max_concurrency"], 1, MAX_CONCURRENCY_LIMIT
        )
        if given("max_concurrency")
        else DEFAULT_MAX_CONCURRENCY,
        max_response_bytes=_as_int(
            conn_id, "max_response_bytes", extra["max_response_bytes"], *MAX_RESPONSE_BYTES_RANGE
        )
        if given("max_response_bytes")
        else DEFAULT_MAX_RESPONSE_BYTES,
        max_pages=_as_int(conn_id, "max_pages", extra["max_pages"], 1, MAX_PAGES_LIMIT)
        if given("max_pages")
        else DEFAULT_MAX_PAGES,
        max_retry_wait=_as_seconds(
            conn_id, "max_retry_wait", extra["max_retry_wait"], 0, MAX_RETRY_WAIT_LIMIT
        )
        if given("max_retry_wait")
        else DEFAULT_MAX_RETRY_WAIT,
        ignored_extras=tuple(sorted(name for name in extra if name not in KNOWN_EXTRAS)),
    )
