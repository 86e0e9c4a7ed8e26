from __future__ import annotations

import email.utils

import pytest
from tenacity import Retrying

from airflow_provider_canvas.wire.backoff import (
    RetryPolicy,
    TransientBodyError,
    backoff_delay,
    gave_up_early,
    parse_retry_after,
    retryable_status,
    tenacity_kwargs,
)


class FakeResponse:
    def __init__(self, status: int, text: str = "", headers: dict | None = None):
        self.status_code = status
        self.text = text
        self.headers = headers or {}


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_retryable_statuses(status):
    assert retryable_status(status, "")


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422, 501, 403])
def test_not_retryable(status):
    assert not retryable_status(status, "")


def test_throttled_403_is_retryable():
    assert retryable_status(403, "403 Forbidden (Rate Limit Exceeded)\n")


def test_exponential_growth_with_bounded_jitter():
    policy = RetryPolicy(base_delay=1.0, max_delay=60.0)
    low = [backoff_delay(n, policy, rng=lambda: 0.0) for n in range(1, 9)]
    high = [backoff_delay(n, policy, rng=lambda: 1.0) for n in range(1, 9)]
    assert low == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert high == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_retry_after_wins_but_is_capped():
    policy = RetryPolicy(max_retry_after=120.0)
    assert backoff_delay(1, policy, retry_after=7.0) == 7.0
    assert backoff_delay(1, policy, retry_after=10_000.0) == 120.0


def test_parse_retry_after_forms():
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0, abs=1.0)


def _run(outcomes, *, max_retries=3, is_transient=lambda exc: isinstance(exc, ConnectionError)):
    calls = []
    sleeps = []

    def attempt():
        outcome = outcomes[len(calls)]
        calls.append(outcome)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    kwargs = tenacity_kwargs(RetryPolicy(max_retries=max_retries), is_transient=is_transient, rng=lambda: 0.0)
    result = Retrying(sleep=sleeps.append, **kwargs)(attempt)
    return result, calls, sleeps


def test_policy_retries_5xx_then_returns_success():
    ok = FakeResponse(200)
    result, calls, sleeps = _run([FakeResponse(503), FakeResponse(502), ok])
    assert result is ok
    assert len(calls) == 3
    assert sleeps == [0.5, 1.0]


def test_policy_honours_retry_after_header():
    _, _, sleeps = _run([FakeResponse(429, headers={"Retry-After": "4"}), FakeResponse(200)])
    assert sleeps == [4.0]


def test_policy_hands_back_last_response_when_exhausted():
    last = FakeResponse(503)
    result, calls, _ = _run([FakeResponse(503), FakeResponse(503), last], max_retries=2)
    assert result is last
    assert len(calls) == 3


def test_policy_does_not_retry_client_errors():
    result, calls, _ = _run([FakeResponse(404), FakeResponse(200)])
    assert result.status_code == 404
    assert len(calls) == 1


def test_policy_reraises_last_transient_exception():
    with pytest.raises(ConnectionError, match="third"):
        _run([ConnectionError("first"), TransientBodyError(), ConnectionError("third")], max_retries=2)


def test_policy_does_not_retry_unknown_exceptions():
    with pytest.raises(KeyError):
        _run([KeyError("x"), FakeResponse(200)])


def test_zero_retries_means_one_attempt():
    result, calls, _ = _run([FakeResponse(503), FakeResponse(200)], max_retries=0)
    assert result.status_code == 503
    assert len(calls) == 1


def test_retry_after_is_honoured_up_to_a_minute_by_default():
    assert RetryPolicy().max_retry_after == 60.0
    assert backoff_delay(1, RetryPolicy(), retry_after=300.0) == 60.0
    assert backoff_delay(1, RetryPolicy(), retry_after=float("inf")) == 60.0
    assert parse_retry_after("1e999") == float("inf")  # capped by backoff_delay, never slept


def test_all_waits_of_one_call_stay_within_max_total_wait_at_the_default():
    """Retry-After: 300 on every attempt with max_retries=20 waited 100 minutes; now 5 x 60 s, then stop."""
    sleeps: list[float] = []
    calls = []

    def attempt():
        calls.append(1)
        return FakeResponse(503, headers={"Retry-After": "300"})

    policy = RetryPolicy(max_retries=20)
    kwargs = tenacity_kwargs(policy, is_transient=lambda exc: False)
    result = Retrying(sleep=sleeps.append, **kwargs)(attempt)
    assert result.status_code == 503
    assert sleeps == [60.0] * 5 and sum(sleeps) <= policy.max_total_wait == 300.0
    assert len(calls) == 6
    assert "max_retry_wait" in (gave_up_early(policy, len(calls)) or "")
    assert gave_up_early(policy, 21) is None  # the retries ran out first: nothing to explain


def test_a_zero_wait_budget_means_no_retry_that_needs_a_wait():
    kwargs = tenacity_kwargs(RetryPolicy(max_retries=5, max_total_wait=0.0), is_transient=lambda exc: True)
    calls = []

    def attempt():
        calls.append(1)
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        Retrying(sleep=lambda s: None, **kwargs)(attempt)
    assert len(calls) == 1


def test_deadline_exceeded_is_retried_like_a_timeout():
    from airflow_provider_canvas.wire.limits import DeadlineExceeded

    result, calls, _ = _run([DeadlineExceeded(), FakeResponse(200)], is_transient=lambda exc: False)
    assert result.status_code == 200 and len(calls) == 2
