"""Building Canvas URLs so that no value can change the path and the token never leaves its host.

Every caller-supplied value becomes exactly one percent-encoded path segment; user ids are checked
against the forms Canvas accepts before anything is sent.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = [
    "API_PREFIX",
    "api_path",
    "channel_id_segment",
    "encode_segment",
    "endpoint_url",
    "is_loopback_host",
    "origin",
    "redact_path",
    "safe_url",
    "user_id_segment",
]

API_PREFIX = "/api/v1"

# Canvas's api_find prefixes (lib/api.rb); an unknown prefix would only ever 404.
USER_ID_PREFIXES = (
    "sis_user_id",
    "sis_login_id",
    "sis_integration_id",
    "lti_context_id",
    "lti_user_id",
    "lti_1_1_id",
    "lti_1_3_id",
    "uuid",
    "hex",
)
MAX_ID_DIGITS = 19  # Canvas ids are 64-bit; longer numbers can never match
MAX_SEGMENT_LENGTH = 255  # SIS id columns are varchar(255)
_DIGITS = re.compile(r"[0-9]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def encode_segment(value: str, *, field: str = "value") -> str:
    """Percent-encode one path segment; ``/``, ``?``, ``#`` and ``%`` can never escape it.

    ``.`` and ``..`` are refused because URL normalisation would turn them into path traversal even
    when percent-encoded by some servers and proxies.
    """
    if value in ("", ".", ".."):
        raise ValueError(f"{field} {value!r} cannot be used as a URL path segment.")
    if _CONTROL.search(value):
        raise ValueError(f"{field} contains control characters; remove them.")
    return quote(value, safe="@:+")


def _positive_id(text: str, field: str) -> str | None:
    if _DIGITS.fullmatch(text):
        if len(text) > MAX_ID_DIGITS or int(text) <= 0:
            raise ValueError(
                f"{field} {_clip(text)!r} is not a Canvas id: ids are positive and at most 19 digits."
            )
        return str(int(text))
    return None


def user_id_segment(user_id: object, *, field: str = "user_id", show_value: bool = True) -> str:
    """Validate a Canvas user reference and return it as one encoded path segment.

    Accepted: a positive int, a numeric string, ``self``, or ``<prefix>:<value>`` with a prefix Canvas
    knows (``sis_user_id:``, ``sis_login_id:``, ...). Canvas's route refuses ids ending in ``.json``.
    ``show_value=False`` keeps the value out of the message (an SIS login id is often an e-mail address).
    """
    if isinstance(user_id, bool) or not isinstance(user_id, (int, str)):
        raise ValueError(
            f"{field} must be an int or a string like 123, 'self' or 'sis_user_id:ABC'; "
            f"got {type(user_id).__name__}."
        )
    text = str(user_id).strip() if isinstance(user_id, str) else str(user_id)
    shown = f" {_clip(text)!r}" if show_value else ""
    if not text:
        raise ValueError(f"{field} is empty; give a Canvas user id, 'self' or 'sis_user_id:...'.")
    if text.startswith("-") and _DIGITS.fullmatch(text[1:]):
        raise ValueError(f"{field}{shown} is not a Canvas id: ids are positive.")
    numeric = _positive_id(text, field)
    if numeric is not None:
        return numeric
    if text == "self":
        return "self"
    prefix, sep, rest = text.partition(":")
    if not sep or prefix not in USER_ID_PREFIXES:
        raise ValueError(
            f"{field}{shown} is not a Canvas user reference: use a numeric id, 'self', or a "
            f"prefixed id such as 'sis_user_id:...' or 'sis_login_id:...' "
            f"(known prefixes: {', '.join(USER_ID_PREFIXES)})."
        )
    if prefix == "hex":  # Canvas's deprecated hex:sis_user_id:<hex> form, for SIS ids ending in .json
        inner, _, rest = rest.partition(":")
        if inner != "sis_user_id" or not re.fullmatch(r"(?:[0-9a-fA-F]{2})+", rest or "x"):
            if not rest.strip():
                raise ValueError(f"{field}{shown} has an empty value after 'hex:sis_user_id:'.")
            raise ValueError(
                f"{field}{shown}: the hex form is 'hex:sis_user_id:' followed by hex digit pairs."
            )
    if not rest.strip():
        raise ValueError(f"{field}{shown} has an empty value after '{prefix}:'.")
    if len(text) > MAX_SEGMENT_LENGTH:
        raise ValueError(
            f"{field} is {len(text)} characters long; Canvas ids are at most {MAX_SEGMENT_LENGTH}."
        )
    if text.lower().endswith(".json"):
        raise ValueError(
            f"{field}{shown} ends in '.json', which Canvas's router strips as a format suffix; "
            "use the 'hex:sis_user_id:<hex>' form for such ids."
        )
    return encode_segment(text, field=field)


def channel_id_segment(channel_id: object, *, field: str = "channel_id") -> str:
    """A communication channel id: a positive integer (or its decimal string)."""
    if isinstance(channel_id, bool) or not isinstance(channel_id, (int, str)):
        raise ValueError(f"{field} must be a positive integer; got {type(channel_id).__name__}.")
    text = str(channel_id).strip()
    numeric = _positive_id(text, field) if text else None
    if numeric is None:
        raise ValueError(f"{field} {_clip(text)!r} is not a Canvas channel id: give a positive integer.")
    return numeric


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def api_path(*segments: str) -> str:
    """Join already-encoded segments under ``/api/v1`` (callers encode with the functions above)."""
    return API_PREFIX + "/" + "/".join(segments)


def endpoint_url(base_url: str, endpoint: str) -> str:
    """Resolve an endpoint relative to ``/api/v1`` on the connection's host, refusing anything else.

    An absolute URL, a scheme-relative ``//host`` or a ``..`` segment could send the token elsewhere or
    reach another API, so they are errors rather than resolved.
    """
    if not isinstance(endpoint, str) or not endpoint.strip("/ "):
        raise ValueError("endpoint must be a path relative to /api/v1, like 'users/self'.")
    path = endpoint.strip()
    if "://" in path or path.startswith("//") or "\\" in path:
        raise ValueError(f"endpoint {_clip(path)!r} must be a path relative to /api/v1, not a URL.")
    if "?" in path or "#" in path:
        raise ValueError(
            "endpoint must not carry a query string or fragment; pass query values with params=."
        )
    path = path.lstrip("/")
    if path == API_PREFIX.lstrip("/") or path.startswith(API_PREFIX.lstrip("/") + "/"):
        path = path[len(API_PREFIX) :]
    segments = path.strip("/").split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise ValueError(f"endpoint {_clip(endpoint)!r} has an empty, '.' or '..' path segment.")
    return base_url + api_path(*segments)


def is_loopback_host(hostname: str | None) -> bool:
    if not hostname:
        return False
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with default ports made explicit, for same-origin checks."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None:
        port = {"https": 443, "http": 80}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


_ADDRESS_SEGMENT = re.compile(r"(/communication_channels/(?:email|sms|push)/)[^/?#]+")


def redact_path(path: str) -> str:
    """A path safe for INFO logs: the address segment and anything that looks like an e-mail are hidden."""
    path = _ADDRESS_SEGMENT.sub(r"\1<address>", path)
    return "/".join("<redacted>" if ("@" in part or "%40" in part) else part for part in path.split("/"))


def safe_url(url: str) -> str:
    """The URL without query string, fragment, credentials or addresses, for errors and logs."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, redact_path(parts.path), "", ""))
