from __future__ import annotations

import email.utils

import pytest
from tenacity import Retrying

from airflow_provider_canvas.wire.backoff import (
    RetryPolicy,
    TransientBodyError,
    backoff_delay,
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
