from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest

from airflow_provider_canvas.hooks._bulk import bulk_map
from airflow_provider_canvas.hooks._governor import Governor
from airflow_provider_canvas.wire.throttle import ConcurrencyPolicy, rate_limit_value

POLICY = ConcurrencyPolicy()


@pytest.mark.parametrize(
    ("others", "remaining", "limit"),
    [
        (0, 600.0, 11),  # empty bucket of 600 with 50 per request: 11 fit below the mark, the 12th fills it
        (10, 100.0, 11),  # the same bucket seen with 10 others in flight
        (1, 550.0, 11),
        (0, 300.0, 5),  # half full from someone else's requests
        (0, 49.0, 1),  # nearly full: still one at a time, never zero
        (5, -20.0, 4),  # over the mark (Canvas reports negative remaining)
    ],
)
def test_limit_keeps_the_bucket_below_its_mark(others, remaining, limit):
    assert POLICY.limit_for(POLICY.capacity(others, remaining), max_limit=64) == limit


def test_limit_respects_the_cap_and_missing_headers():
    assert POLICY.limit_for(POLICY.capacity(0, 600.0), max_limit=4) == 4
    assert POLICY.limit_for(None, max_limit=9) == 9
    assert POLICY.cap_after_throttle(0) == 1
    assert POLICY.cap_after_throttle(11) == 11


def climb(governor: Governor, remaining: float, answers: int) -> list[int]:
    limits = []
    for _ in range(answers):
        governor.observe(remaining=remaining, throttled=False)
        limits.append(governor.limit)
    return limits


def test_a_lone_governor_rises_one_step_per_answer():
    governor = Governor(16)
    assert governor.limit == 2  # before any answer
    governor.requests = 1  # a request was made
    assert climb(governor, 600.0, 10) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 11]  # the whole bucket is its own


def always() -> float:
    """A draw that every chance to rise takes: what is left is the pace of one step per round trip."""
    return 0.0


def test_a_shared_governor_rises_one_step_per_round_trip_and_falls_at_once():
    governor = Governor(16, rng=always)
    governor.requests = 1
    # 400 left: others hold 4 slots, so room for 7. One step per round trip: n clean answers at a limit of n.
    assert climb(governor, 400.0, 12) == [2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5]
    climb(governor, 400.0, 30)
    assert governor.limit == 7
    climb(governor, 600.0, 30)  # the others are gone
    assert governor.limit == 11
    governor.observe(remaining=300.0, throttled=False)  # someone else is using the token
    assert governor.limit == 5  # down at once
    assert set(climb(governor, 600.0, 20)) == {5}  # the minimum of recent answers: optimistic ones wait


def test_a_throttle_drops_the_limit_to_the_others_in_flight_then_it_climbs_back():
    governor = Governor(16, rng=always)
    governor.requests = 1
    climb(governor, 600.0, 80)
    assert governor.limit == 11
    governor._in_flight = 8  # this request's slot and seven others, when its answer came back throttled
    governor.observe(remaining=None, throttled=True)
    assert governor.limit == 7 and governor.throttled == 1
    governor._in_flight = 1  # only the answering request's own slot
    assert climb(governor, 500.0, 8) == [7, 7, 7, 7, 7, 7, 8, 8]  # fresh estimates, one step per trip
    governor.observe(remaining=None, throttled=True)
    assert governor.limit == 1  # nothing else was in flight, so even one more was too many


def test_the_policy_rises_one_step_per_round_trip():
    assert POLICY.rise(4, 9, 0.99, 10.0) == (4, 0.99)
    assert POLICY.rise(4, 9, 1.0, 10.0) == (5, 0.0)
    assert POLICY.rise(4, 5, 3.0, 10.0) == (5, 0.0)
    assert POLICY.rise(4, 11, 0.0, 12.0) == (5, 0.0)  # alone in the bucket: no waiting for a round trip
    assert POLICY.rise(4, 11, 0.0, None) == (4, 0.0)
    assert POLICY.rise(4, 11, 1.0, None) == (5, 0.0)  # no throttle headers: no chance involved


def test_sharing_the_bucket_a_process_rises_only_by_chance_and_a_missed_chance_is_gone():
    # capacity 7 with 4 in flight: others hold 5 of the 12, the room is 2 (the limit may go to 6).
    chance = POLICY.rise_probability(4, 6, 7.0)
    assert chance == pytest.approx(2 * (5 / 9) / 3)
    assert POLICY.rise(4, 6, 1.0, 7.0, draw=chance - 0.01) == (5, 0.0)
    assert POLICY.rise(4, 6, 1.0, 7.0, draw=chance + 0.01) == (4, 0.0)  # the credit is spent either way
    assert POLICY.rise(4, 6, 0.5, 7.0, draw=0.0) == (4, 0.5)  # and never more than once a round trip
    assert POLICY.rise(4, 11, 0.0, 12.0, draw=0.99) == (5, 0.0)  # alone: no chance involved


def test_the_chance_to_rise_grows_with_the_room_and_favours_the_process_with_less_in_flight():
    # Both see the same bucket: 9 requests in it, room for 2 more. One holds 1 of them, the other 5.
    small, large = POLICY.rise_probability(1, 3, 4.0), POLICY.rise_probability(5, 7, 8.0)
    assert small > large > 0
    assert POLICY.rise_probability(3, 4, 5.0) < POLICY.rise_probability(3, 6, 5.0)  # room 1 against 3
    assert POLICY.rise_probability(3, 3, 5.0) == 0  # no room, no chance
    assert POLICY.rise_probability(3, 20, 5.0) == 1  # much room: certain
    # Four processes with equal shares, each seeing a room of r, take r more in flight in expectation.
    assert 4 * POLICY.rise_probability(2, 3, 6.0) == pytest.approx(1.0)


def test_processes_sharing_a_bucket_fill_its_room_without_all_taking_it_at_once():
    """Four governors starting together see the same room at the same moments. Rising by chance, they take
    it over a round trip or two and overshoot (one throttle) in fewer than half the starts; rising for sure,
    all four step into a room of 3 at once, every time."""

    def start(draw: Callable[[], float]) -> tuple[int, int]:
        limits = [2, 2, 2, 2]  # 8 in the bucket; 11 keep it below the mark
        for round_trip in range(1, 41):
            total = sum(limits)
            steps = [POLICY.rise(n, n + 11 - total, 1.0, 12 - (total - n), draw())[0] - n for n in limits]
            limits = [n + step for n, step in zip(limits, steps, strict=True)]
            if sum(limits) >= 11:
                return sum(limits), round_trip
        return sum(limits), round_trip

    rng = random.Random(7)
    by_chance = [start(rng.random) for _ in range(500)]
    assert all(total >= 11 for total, _ in by_chance)  # the room is always taken...
    assert sum(trips for _, trips in by_chance) / 500 < 2  # ...within two round trips on average
    overshoots = sum(total > 11 for total, _ in by_chance)
    assert overshoots < 0.5 * 500
    assert start(lambda: 0.0) == (12, 1)  # for sure: 4 rises into a room of 3, in the first round trip


def test_governor_never_lets_more_than_the_limit_in_flight():
    governor = Governor(3)
    governor.observe(remaining=600.0, throttled=False)
    assert governor.limit == 3
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def work():
        nonlocal in_flight, peak
        with governor.slot():
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            time.sleep(0.02)
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 3
    assert governor.peak_in_flight == 3
    assert governor.requests == 12


def test_bulk_map_pulls_items_lazily_and_bounds_what_is_pending():
    pulled = 0

    def items():
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            yield i

    results = bulk_map(lambda i: i * 2, items(), workers=4)
    first = [next(results) for _ in range(3)]
    assert all(out == 2 * item for item, out in first)
    assert pulled <= 3 + 2 * 4 + 1  # never more than the window ahead of the consumer
    rest = list(results)
    assert sorted(item for item, _ in first + rest) == list(range(1000))


def test_bulk_map_stops_cleanly_when_the_consumer_stops():
    started = []

    def slow(i):
        started.append(i)
        time.sleep(0.01)
        return i

    results = bulk_map(slow, range(10_000), workers=4)
    next(results)
    results.close()
    assert len(started) < 50


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("512.5", 512.5),
        ("0", 0.0),
        (" 7 ", 7.0),
        (None, None),
        ("", None),
        ("nan", None),
        ("NaN", None),
        ("inf", None),
        ("-inf", None),
        ("1e999", None),
        ("-5", None),
        ("garbage", None),
        ("0x10", None),
    ],
)
def test_rate_limit_headers_that_are_not_a_finite_non_negative_number_count_as_absent(value, expected):
    assert rate_limit_value(value) == expected


def test_the_policy_never_raises_on_a_non_finite_capacity():
    for capacity in (float("nan"), float("inf"), float("-inf")):
        assert POLICY.limit_for(capacity, max_limit=7) == 7


def test_one_odd_answer_never_breaks_the_governor():
    """A NaN used to reach math.ceil and poison the estimate window for good (ValueError on every call)."""
    governor = Governor(16)
    governor.observe(remaining=600.0, throttled=False)
    for value in ("nan", "inf", "-inf", "1e999", "-5", "garbage"):
        governor.observe(remaining=rate_limit_value(value), throttled=False)
        assert governor.limit == 11  # the odd answer told it nothing; the estimates stand
    governor.observe(remaining=300.0, throttled=False)
    assert governor.limit == 5
