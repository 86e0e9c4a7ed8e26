"""Local checks on communication-channel input, so a typo fails before a request reaches Canvas.

The rules mirror what Canvas would reject (or, worse, silently accept: an unknown type becomes e-mail)
and how it matches addresses (``lower(path)``), so that idempotency checks agree with Canvas.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "CHANNEL_TYPES",
    "LIVE_STATES",
    "TARGET_STATES",
    "address_key",
    "find_channel",
    "match_target_state",
    "validate_address",
    "validate_channel_type",
    "validate_push_token",
    "validate_target_state",
]

CHANNEL_TYPES = ("email", "sms", "push")
LIVE_STATES = frozenset({"unconfirmed", "active"})
MAX_ADDRESS_LENGTH = 254
# RFC 5322 atext for the local part and LDH labels for the domain, ASCII only like Canvas's validator:
# angle brackets from a mail header or an invisible character pasted from a web page are refused here.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+=^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
_SMS_NUMBER = re.compile(r"\+?[0-9 ().\-]+")
_SMS_GATEWAY = re.compile(r"\+?[0-9]{6,20}@[^@\s.]+(\.[^@\s.]+)+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _is_phone_number(text: str) -> bool:
    """Digits with the usual punctuation; 7 to 15 digits (E.164 allows at most 15)."""
    return bool(_SMS_NUMBER.fullmatch(text)) and 7 <= sum(ch.isdigit() for ch in text) <= 15


def validate_channel_type(value: object, *, field: str = "channel_type") -> str:
    if not isinstance(value, str) or value.strip().lower() not in CHANNEL_TYPES:
        raise ValueError(f"{field} must be one of {', '.join(CHANNEL_TYPES)}; got {value!r}.")
    return value.strip().lower()


def validate_address(
    channel_type: str, address: object, *, field: str = "address", show_value: bool = True
) -> str:
    """A plausible e-mail address or SMS number for ``channel_type``; returned stripped, case kept."""
    if address is None or (isinstance(address, str) and not address.strip()):
        raise ValueError(f"{field} is required for {channel_type} channels.")
    if not isinstance(address, str):
        raise ValueError(f"{field} must be a string; got {type(address).__name__}.")
    text = address.strip()
    shown = f" {text[:80]!r}" if show_value else ""
    if len(text) > MAX_ADDRESS_LENGTH:
        raise ValueError(f"{field} is {len(text)} characters long; the limit is {MAX_ADDRESS_LENGTH}.")
    if _CONTROL.search(text):
        raise ValueError(f"{field} contains control characters.")
    if channel_type == "email":
        if not _EMAIL.fullmatch(text) or "/" in text or "?" in text:
            raise ValueError(f"{field}{shown} is not a plausible e-mail address (expected name@domain.tld).")
    elif channel_type == "sms" and not (_is_phone_number(text) or _SMS_GATEWAY.fullmatch(text)):
        raise ValueError(
            f"{field}{shown} is not an SMS number: use digits with an optional leading '+' "
            "(e.g. +15551234567) or a carrier gateway address (5551234567@carrier.example)."
        )
    return text


def validate_push_token(token: object, *, field: str = "token") -> str:
    if not isinstance(token, str) or not token.strip():
        raise ValueError(f"{field} is required for push channels: give the device's push registration token.")
    if _CONTROL.search(token):
        raise ValueError(f"{field} contains control characters; remove them (line breaks included).")
    if len(token) > 4096:
        raise ValueError(
            f"{field} is {len(token)} characters long; push registration tokens are at most 4096."
        )
    return token.strip()


def address_key(address: str) -> str:
    """Canvas matches addresses with SQL ``lower()``; this is the key to compare them by."""
    return address.strip().lower()


def find_channel(
    channels: Sequence[Mapping[str, Any]],
    channel_type: str,
    address: str,
    *,
    states: frozenset[str] = LIVE_STATES,
) -> Mapping[str, Any] | None:
    """The channel Canvas would treat as "the same" (type + case-insensitive address), if any."""
    key = address_key(address)
    for channel in channels:
        if (
            channel.get("type") == channel_type
            and channel.get("workflow_state") in states
            and address_key(str(channel.get("address", ""))) == key
        ):
            return channel
    return None


TARGET_STATES = ("active", "unconfirmed", "present", "absent")


def validate_target_state(value: object) -> str:
    if value not in TARGET_STATES:
        raise ValueError(f"target_state must be one of {', '.join(TARGET_STATES)}; got {value!r}.")
    return str(value)


def match_target_state(
    channels: Sequence[Mapping[str, Any]],
    *,
    target_state: str,
    channel_id: int | None = None,
    channel_type: str | None = None,
    address: str | None = None,
) -> tuple[bool, Mapping[str, Any] | None]:
    """Has the channel reached ``target_state``? Returns (done, the channel as last seen or None).

    ``absent`` means Canvas no longer lists it (never created, or retired: index hides retired rows).
    """
    if channel_id is not None:
        found = next((c for c in channels if c.get("id") == channel_id), None)
    elif channel_type is not None and address is not None:
        found = find_channel(channels, channel_type, address)
    else:
        raise ValueError("Give channel_id, or channel_type and address, to say which channel to watch.")
    if target_state == "absent":
        return found is None, found
    if found is None:
        return False, None
    state = found.get("workflow_state")
    done = state in LIVE_STATES if target_state == "present" else state == target_state
    return done, found
