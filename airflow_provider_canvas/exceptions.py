"""One exception family for everything Canvas can answer, so DAG authors catch by meaning, not status.

Every error carries what an operator needs to act on it (status, method, a URL with no secrets, and
Canvas's own human messages) and nothing that could leak: no token, no response body wholesale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_canvas._compat import AirflowException


class CanvasError(AirflowException):
    """Root of every error this provider raises about Canvas or its connection.

    Catch it (or a subclass) by meaning; the message is the summary, Canvas's own messages and a hint,
    and never carries the access token or a response body wholesale. It pickles with all its fields, so
    it crosses process boundaries (the triggerer) intact.

    :param summary: what failed, e.g. ``"Canvas answered 404 for GET https://.../users/1/..."``.
    :param status_code: Canvas's HTTP status, or None when there was no answer.
    :param method: the HTTP method of the failed request.
    :param url: the request's URL, with nothing secret in it.
    :param messages: Canvas's own error messages, from whichever of its error shapes it used.
    :param attempts: how many attempts were made (1 when it was not retried).
    :param ambiguous_retry: an earlier attempt failed in a way Canvas may still have acted on (a read
        timeout, a 5xx, a dropped connection), so a create answered "already exists" may be looking at its
        own first attempt.
    """

    hint: str = ""

    def __init__(
        self,
        summary: str,
        *,
        status_code: int | None = None,
        method: str | None = None,
        url: str | None = None,
        messages: Sequence[str] = (),
        attempts: int = 1,
        ambiguous_retry: bool = False,
    ) -> None:
        self.summary = summary
        # Shadows AirflowException's HTTPStatus class attribute with Canvas's answer (None: no answer).
        self.status_code = status_code  # type: ignore[assignment]
        self.method = method
        self.url = url
        self.messages = list(messages)
        self.attempts = attempts
        # True when an earlier attempt of this request failed in a way that Canvas may still have acted
        # on (a read timeout, a 5xx, a dropped connection): a create that then says "already exists"
        # may be looking at its own first attempt.
        self.ambiguous_retry = ambiguous_retry
        super().__init__(self.render())

    def render(self) -> str:
        """The message from the current fields; call it again (``error.args = (error.render(),)``) after
        changing them."""
        parts = [self.summary]
        if self.messages:
            parts.append("Canvas said: " + "; ".join(_unstopped(m) for m in self.messages))
        if self.attempts > 1:
            parts.append(f"(after {self.attempts} attempts)")
        if self.hint:
            parts.append(self.hint)
        return " ".join(sentence(part) for part in parts)

    def add_detail(self, detail: str | None) -> CanvasError:
        """Append a sentence of ours to the summary (not to Canvas's messages) and re-render."""
        if detail:
            self.summary = f"{sentence(self.summary)} {detail}"
            self.args = (self.render(),)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments do not survive the default exception pickling.
        return _rebuild, (type(self), self.summary, self.__dict__.copy())


def _rebuild(cls: type[CanvasError], summary: str, state: dict[str, Any]) -> CanvasError:
    error = cls.__new__(cls)
    AirflowException.__init__(error, summary)
    error.__dict__.update(state)
    error.args = (error.render(),)
    return error


def _unstopped(text: str) -> str:
    """Canvas's message without its own closing full stop, so joining and closing adds no second one."""
    text = text.strip()
    return text[:-1] if text.endswith(".") and not text.endswith("..") else text


def sentence(text: str) -> str:
    """``text`` closed by exactly one full stop (kept as is when it already ends a sentence)."""
    text = text.strip()
    return text if text.endswith((".", ")", "!", "?")) else text + "."


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 user``, ``2 users``: counts in messages read right for one as well."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


class CanvasConfigurationError(CanvasError, ValueError):
    """The ``canvas`` connection cannot be used as configured; raised before any request is sent."""


class CanvasInputError(CanvasError, ValueError):
    """A value was rejected locally, before any request (reported per item by the bulk calls)."""


class CanvasConnectionError(CanvasError):
    """No usable HTTP answer: the host was unreachable, TLS failed, or the request timed out."""


class CanvasTimeoutError(CanvasConnectionError):
    """Canvas did not answer within the connection's timeout, on every attempt (it may still have acted)."""


class CanvasTLSError(CanvasConnectionError):
    """The TLS handshake failed: a configuration problem (certificate, CA bundle, scheme), not bad luck."""


class CanvasResponseError(CanvasError):
    """Canvas answered in a way that is unsafe or impossible to use (bad JSON, redirect, foreign link)."""


class CanvasAuthenticationError(CanvasError):
    """401 with ``WWW-Authenticate``: the access token is missing, invalid, expired or revoked."""

    hint = "Check the Access Token of the Canvas connection (it may be invalid, expired or revoked)."


class CanvasPermissionError(CanvasError):
    """The token is valid but its user may not do this (401 without ``WWW-Authenticate``, or a plain 403)."""

    hint = "The token's user lacks the Canvas permission for this call (see the provider's connection docs)."


class CanvasNotFoundError(CanvasError):
    """404: the user or channel does not exist, or the channel is already retired."""


class CanvasValidationError(CanvasError):
    """400: Canvas rejected the parameters."""


class CanvasDuplicateChannelError(CanvasValidationError):
    """400 ``unique!``: the user already has an unconfirmed or active channel with this type and address."""


class CanvasRateLimitError(CanvasError):
    """Canvas kept throttling the request (403 "Rate Limit Exceeded" or 429) after every retry."""

    hint = "Lower the concurrency or raise max_retries on the connection."


class CanvasServerError(CanvasError):
    """Canvas kept answering 5xx after every retry."""


__all__ = [
    "CanvasAuthenticationError",
    "CanvasConfigurationError",
    "CanvasConnectionError",
    "CanvasDuplicateChannelError",
    "CanvasError",
    "CanvasInputError",
    "CanvasNotFoundError",
    "CanvasPermissionError",
    "CanvasRateLimitError",
    "CanvasResponseError",
    "CanvasServerError",
    "CanvasTLSError",
    "CanvasTimeoutError",
    "CanvasValidationError",
]
