"""When to retry a Canvas request and how long to wait, for the sync hook and the async trigger alike.

Canvas's throttle is a leaky bucket that drains at a fixed rate and sends no ``Retry-After``, so the
wait is exponential with jitter (spreading concurrent clients), and a ``Retry-After`` is honoured when a
proxy or a future Canvas sends one. The policy is tenacity configuration built from pure functions.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from tenacity import RetryCallState, retry_if_exception, retry_if_result, stop_after_attempt
from tenacity.stop import stop_base

from airflow_provider_canvas.exceptions import CanvasError
from airflow_provider_canvas.wire.errors import Redact, check_answer, is_throttle, unreadable_body_error
from airflow_provider_canvas.wire.limits import (
    DeadlineExceeded,
    JSONTooDeep,
    ResponseTooLarge,
    UnsupportedEncoding,
    deadline_error,
    too_deep_error,
    too_large_error,
    unsupported_encoding_error,
)

__all__ = [
    "FAILURE_SIGNALS",
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "TransientBodyError",
    "backoff_delay",
    "check_final_answer",
    "failure_error",
    "gave_up_early",
    "parse_retry_after",
    "retry_after_seconds",
    "retry_reason",
    "retryable_status",
    "tenacity_kwargs",
]

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


class TransientBodyError(Exception):
    """A 2xx whose body was empty, truncated or not JSON: worth another attempt, like a dropped connection."""


class _ResponseLike(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retry_after`` caps one ``Retry-After``; ``max_total_wait`` caps all waits of one call together,
    so a call lasts at most (max_retries + 1) x timeout + max_total_wait whatever the server says."""

    max_retries: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 60.0
    max_total_wait: float = 300.0


def retryable_status(status: int, body: str) -> bool:
    return status in RETRYABLE_STATUSES or is_throttle(status, body)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date); None when absent/invalid."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def backoff_delay(
    retry_number: int,
    policy: RetryPolicy,
    *,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float:
    """Delay before retry ``retry_number`` (1-based).

    Exponential with "equal jitter": half the window is fixed, half random, so a retry never fires at
    once (which would hit a still-full bucket) and concurrent clients do not retry in lock-step.
    """
    if retry_after is not None:
        return min(retry_after, policy.max_retry_after)
    window = min(policy.max_delay, policy.base_delay * 2 ** max(0, retry_number - 1))
    return window / 2 + rng() * window / 2


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            return parse_retry_after(value)
    return None


class stop_after_waiting(stop_base):
    """Stop when the next wait would bring the call's waiting past ``seconds`` in total."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.idle_for + (retry_state.upcoming_sleep or 0.0) > self.seconds


def _retryable_response(response: Any) -> bool:
    return isinstance(getattr(response, "status_code", None), int) and retryable_status(
        response.status_code, response.text
    )


def tenacity_kwargs(
    policy: RetryPolicy,
    *,
    is_transient: Callable[[BaseException], bool],
    before_sleep: Callable[[RetryCallState], None] | None = None,
    rng: Callable[[], float] = random.random,
) -> dict[str, Any]:
    """Arguments for ``tenacity.Retrying`` / ``AsyncRetrying``: the one retry policy of this provider.

    After the last attempt the final response is handed back (the caller maps it to a typed error) or the
    final exception is re-raised, never tenacity's ``RetryError``.
    """

    def wait(state: RetryCallState) -> float:
        retry_after = None
        if state.outcome is not None and not state.outcome.failed:
            retry_after = retry_after_seconds(state.outcome.result().headers)
        return backoff_delay(state.attempt_number, policy, retry_after=retry_after, rng=rng)

    def give_up(state: RetryCallState) -> Any:
        assert state.outcome is not None
        return state.outcome.result()

    return {
        "stop": stop_after_attempt(policy.max_retries + 1) | stop_after_waiting(policy.max_total_wait),
        "wait": wait,
        "retry": retry_if_exception(
            lambda exc: isinstance(exc, TransientBodyError | DeadlineExceeded) or is_transient(exc)
        )
        | retry_if_result(_retryable_response),
        "before_sleep": before_sleep,
        "retry_error_callback": give_up,
    }


def gave_up_early(policy: RetryPolicy, attempts: int) -> str | None:
    """For a call that ended on a retryable failure: why it stopped before ``max_retries`` ran out."""
    if attempts > policy.max_retries:
        return None
    return (
        f"Stopped retrying after {attempts} attempts: the next wait would pass the "
        f"{policy.max_total_wait:g}s one call may spend waiting between retries (connection extra "
        "max_retry_wait)."
    )


# What an attempt raises, in either transport, when the answer is unusable or never came in full.
FAILURE_SIGNALS: tuple[type[Exception], ...] = (
    DeadlineExceeded,
    TransientBodyError,
    ResponseTooLarge,
    UnsupportedEncoding,
    JSONTooDeep,
)


def failure_error(
    signal: BaseException, policy: RetryPolicy, *, method: str, url: str, attempts: int, timeout: float
) -> CanvasError:
    """The typed error for a :data:`FAILURE_SIGNALS` signal that ended the call (retried or not)."""
    if isinstance(signal, DeadlineExceeded):
        error: CanvasError = deadline_error(method, url, timeout=timeout, attempts=attempts)
    elif isinstance(signal, TransientBodyError):
        error = unreadable_body_error(method, url, attempts)
    elif isinstance(signal, ResponseTooLarge):
        return too_large_error(method, url, signal.limit, attempts)
    elif isinstance(signal, UnsupportedEncoding):
        return unsupported_encoding_error(method, url, str(signal))
    else:
        return too_deep_error(method, url)
    return error.add_detail(gave_up_early(policy, attempts))


def check_final_answer(
    answer: _ResponseLike,
    policy: RetryPolicy,
    *,
    method: str,
    url: str,
    attempts: int,
    redact: Redact,
    ambiguous_retry: bool = False,
) -> None:
    """:func:`check_answer` for a call's last answer, saying why the retries stopped early if they did."""
    try:
        check_answer(
            status=answer.status_code,
            headers=answer.headers,
            body=answer.text,
            method=method,
            url=url,
            attempts=attempts,
            ambiguous_retry=ambiguous_retry,
            redact=redact,
        )
    except CanvasError as error:
        if retryable_status(answer.status_code, answer.text):
            error.add_detail(gave_up_early(policy, attempts))
        raise


def retry_reason(state: RetryCallState) -> str:
    """What went wrong with the attempt about to be retried, for the retry warning (no bodies, no URLs)."""
    assert state.outcome is not None
    if state.outcome.failed:
        return type(state.outcome.exception()).__name__
    answer = state.outcome.result()
    return "throttled" if is_throttle(answer.status_code, answer.text) else str(answer.status_code)
