"""The leaky-bucket throttle: unit tests with an injected clock, then real concurrent HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from airflow_provider_canvas.testing import FakeCanvas, ThrottleSettings, bucket_key
from airflow_provider_canvas.testing.throttle import Throttle, ruby_float

THROTTLED_BODY = "403 Forbidden (Rate Limit Exceeded)\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_up_front_cost_is_reserved_then_refunded(clock):
    throttle = Throttle(ThrottleSettings(), clock)
    admission = throttle.begin("token:a")
    assert not admission.throttled
    assert throttle.level("token:a") == 50.0
    remaining = throttle.end(admission, 0.25)
    assert remaining == pytest.approx(600 - 0.25)
    assert throttle.level("token:a") == pytest.approx(0.25)


def test_twelve_in_flight_fill_the_bucket(clock):
    throttle = Throttle(ThrottleSettings(), clock)
    admitted = [throttle.begin("token:a") for _ in range(11)]
    assert not any(a.throttled for a in admitted)  # 550 < 600
    twelfth = throttle.begin("token:a")
    assert twelfth.throttled  # 600 >= hwm
    assert throttle.throttled == 1
    assert throttle.max_in_flight_by_bucket() == {"token:a": 12}
    # The refused request's refund leaves the bucket below hwm: "remaining" is positive on a refusal.
    assert throttle.end(twelfth, 0.0) == pytest.approx(50.0)


def test_buckets_are_per_client(clock):
    throttle = Throttle(ThrottleSettings(), clock)
    for _ in range(11):
        throttle.begin("token:a")
    assert not throttle.begin("token:b").throttled
    assert throttle.max_in_flight == 12


def test_bucket_leaks_at_outflow_per_second(clock):
    throttle = Throttle(ThrottleSettings(up_front_cost=0.0), clock)
    throttle.end(throttle.begin("ip:x"), 100.0)
    clock.now += 3.0
    assert throttle.level("ip:x") == pytest.approx(70.0)
    throttle.end(throttle.begin("ip:x"), 0.0)  # the leak is written back on the next increment
    clock.now += 100.0
    assert throttle.level("ip:x") == 0.0


def test_count_is_capped_at_maximum_and_full_at_hwm(clock):
    throttle = Throttle(ThrottleSettings(), clock)
    admissions = [throttle.begin("token:a") for _ in range(30)]
    assert throttle.level("token:a") == 800.0  # maximum, not 1500
    assert sum(a.throttled for a in admissions) == 19
    for admission in admissions:
        throttle.end(admission, 0.0)
    assert throttle.level("token:a") == 0.0


def test_leak_lets_a_full_bucket_recover(clock):
    throttle = Throttle(ThrottleSettings(up_front_cost=0.0), clock)
    throttle.end(throttle.begin("token:a"), 650.0)
    assert throttle.begin("token:a").throttled
    clock.now += 6.0  # 650 - 60 = 590 < 600
    assert not throttle.begin("token:a").throttled


def test_disabled_throttle_counts_but_never_refuses_and_force_always_refuses(clock):
    throttle = Throttle(ThrottleSettings(enabled=False), clock)
    assert not any(throttle.begin("token:a").throttled for _ in range(20))
    assert throttle.level("token:a") == 800.0
    assert throttle.begin("token:b", force=True).throttled


def test_mean_seconds_in_flight_counts_admitted_requests_until_reset(clock):
    throttle = Throttle(ThrottleSettings(), clock)
    assert throttle.mean_seconds_in_flight == 0.0
    first, second = throttle.begin("token:a"), throttle.begin("token:a")
    clock.now += 0.05
    throttle.end(first, 0.01)
    clock.now += 0.02
    throttle.end(second, 0.01)
    refused = throttle.begin("token:b", force=True)
    clock.now += 5.0
    throttle.end(refused, 0.0)  # a refusal is not a request the bucket let through
    assert throttle.mean_seconds_in_flight == pytest.approx(0.06)
    throttle.reset_counters()
    assert throttle.mean_seconds_in_flight == 0.0


def test_ruby_float_formatting():
    assert ruby_float(600.0) == "600.0"
    assert ruby_float(599.99) == "599.99"
    assert ruby_float(0.00001) == "1.0e-05"
    assert ruby_float(-12.5) == "-12.5"


def test_bucket_key_hashes_tokens_and_falls_back_to_ip():
    assert bucket_key("secret-token", "127.0.0.1").startswith("token:")
    assert "secret-token" not in bucket_key("secret-token", "127.0.0.1")
    assert bucket_key(None, "127.0.0.1") == "ip:127.0.0.1"


def _get(url: str, token: str) -> requests.Response:
    return requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _burst(canvas: FakeCanvas, tokens: list[str], each: int) -> list[requests.Response]:
    url = f"{canvas.base_url}/api/v1/users/self/communication_channels"
    jobs = [token for token in tokens for _ in range(each)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(lambda token: _get(url, token), jobs))


def test_concurrent_slow_requests_get_throttled_exactly_like_canvas():
    with FakeCanvas(latency=1.0) as canvas:
        responses = _burst(canvas, [canvas.admin_token], 16)
        stats = canvas.stats
    refused = [r for r in responses if r.status_code == 403]
    assert refused, "16 concurrent slow requests on one token must overflow 12 x 50 = 600"
    assert len(refused) <= 16 - 11
    for response in refused:
        assert response.text == THROTTLED_BODY
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert "Retry-After" not in response.headers
        assert "X-Request-Cost" not in response.headers
        assert float(response.headers["X-Rate-Limit-Remaining"]) <= 600
    for response in responses:
        if response.status_code == 200:
            assert float(response.headers["X-Request-Cost"]) == pytest.approx(0.01)
    assert stats.throttled == len(refused)
    assert stats.max_in_flight >= 12


def test_stats_give_the_request_duration_the_bucket_sees():
    with FakeCanvas(latency=0.05) as canvas:
        _burst(canvas, [canvas.admin_token], 4)
        mean = canvas.stats.mean_seconds_in_flight
    assert 0.05 <= mean < 1.0  # the latency, plus the fake's own work


def test_separate_tokens_have_separate_buckets():
    with FakeCanvas(latency=0.5) as canvas:
        responses = _burst(canvas, [canvas.admin_token, canvas.user_token], 8)
    assert [r.status_code for r in responses] == [200] * 16


def test_serial_requests_are_never_throttled(canvas):
    url = f"{canvas.base_url}/api/v1/users/self"
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {canvas.admin_token}"
        statuses = {session.get(url, timeout=10).status_code for _ in range(200)}
    assert statuses == {200}
    assert canvas.stats.throttled == 0


def test_429_mode_and_runtime_disable():
    with FakeCanvas(latency=1.0, throttle=ThrottleSettings(throttle_status=429)) as canvas:
        refused = [r for r in _burst(canvas, [canvas.admin_token], 16) if r.status_code != 200]
        assert refused
        assert {r.status_code for r in refused} == {429}
        assert refused[0].text == "429 Too Many Requests (Rate Limit Exceeded)\n"
        assert "Retry-After" not in refused[0].headers
        canvas.throttle.enabled = False
        assert {r.status_code for r in _burst(canvas, [canvas.user_token], 16)} == {200}


def test_throttle_headers_on_ordinary_responses(canvas, api):
    response = api.get("users/self")
    assert response.headers["X-Request-Cost"] == "0.01"
    assert 599.0 < float(response.headers["X-Rate-Limit-Remaining"]) <= 600.0
    canvas.throttle = ThrottleSettings(cost=2.5, outflow=0.0)
    response = api.get("users/self")
    assert response.headers["X-Request-Cost"] == "2.5"
    assert float(response.headers["X-Rate-Limit-Remaining"]) == pytest.approx(597.5, abs=0.02)
