"""Keeping the secrets a hook holds out of every text that came from a server.

A server can echo what it was sent: the ``Authorization`` header in an error body, a push token in a
validation message, the token as the host of a ``Location`` or ``next`` link (which URL parsing then
lower-cases, so Airflow's exact-match log masker no longer sees it). Each secret is therefore matched
case-insensitively and with any of its characters percent-encoded (once or twice), and replaced before
the text becomes part of an error, a log line or anything built from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

from airflow_provider_canvas.exceptions import CanvasError

__all__ = ["MIN_SECRET_LENGTH", "REPLACEMENT", "Redactor", "redact_error"]

REPLACEMENT = "***"
# Shorter values would also match ordinary words; Airflow's own masker skips them for the same reason.
MIN_SECRET_LENGTH = 5

E = TypeVar("E", bound=BaseException)


def _char_pattern(char: str) -> str:
    """The character itself, or its UTF-8 bytes percent-encoded (``%25`` for a second encoding)."""
    encoded = "".join(f"%(?:25)?{byte:02X}" for byte in char.encode("utf-8"))
    alternatives = [re.escape(char), encoded]
    if char == " ":
        alternatives.append(r"\+")
    return "(?:" + "|".join(alternatives) + ")"


class Redactor:
    """Replaces every known secret in a text; more secrets can be added as the hook sends them."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < MIN_SECRET_LENGTH or secret in self._secrets:
            return
        self._secrets.add(secret)
        # Longest first, so a secret that contains another is replaced whole.
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile(
            "|".join("".join(_char_pattern(c) for c in secret) for secret in ordered), re.IGNORECASE
        )

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REPLACEMENT, text)

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secrets>)"


def redact_error(error: E, redact: Redactor) -> E:
    """Scrub a raised error in place and cut it loose from whatever was being handled when it was made.

    A ``raise ... from None`` only hides ``__context__`` from tracebacks; the request (with its
    ``Authorization`` header) stays reachable through it, so it is cleared here.
    """
    if isinstance(error, CanvasError):
        error.summary = redact(error.summary)
        error.url = redact(error.url) if error.url else error.url
        error.messages = [redact(message) for message in error.messages]
        error.args = (error.render(),)
    else:
        error.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in error.args)
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True
    return error
