"""Canvas's request throttle: ``RequestThrottle`` and ``increment_bucket.lua`` (behaviour document §8).

Each client (an access token, else the IP address) has a leaky bucket. A request first adds
``up_front_cost``; it is refused if the bucket is then at or above ``hwm``. When it finishes, the up-front
cost is refunded and the real ``cost`` added. Only requests *in flight at the same time* pay the up-front
cost together, so about ``hwm / up_front_cost`` (12 by default) concurrent requests fill the bucket, while a
serial client is practically never throttled. That is the behaviour a client's concurrency must respect.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class ThrottleSettings:
    """Canvas's defaults. Mutable while the server runs (``canvas.throttle.enabled = False``).

    ``enabled=False`` behaves like Canvas with ``request_throttle.enabled`` off: buckets and headers are kept
    but nothing is refused. ``cost`` is the cost of every request that reaches the application; real Canvas
    charges CPU plus database seconds, well below 1. ``throttle_status`` 429 mirrors the current public docs
    instead of Canvas's code (403).

    :ivar enabled: refuse requests when a bucket is full (headers are sent either way).
    :ivar hwm: the high-water mark: a request that brings its bucket to it is refused.
    :ivar maximum: the most a bucket can hold.
    :ivar outflow: units leaked per second.
    :ivar up_front_cost: reserved per request in flight and refunded when it ends, so about
        ``hwm / up_front_cost`` concurrent requests fill the bucket.
    :ivar cost: charged per request that reaches the application.
    :ivar throttle_status: the status of a refusal: 403 (Canvas's code) or 429.
    """

    enabled: bool = True
    hwm: float = 600.0
    maximum: float = 800.0
    outflow: float = 10.0
    up_front_cost: float = 50.0
    cost: float = 0.01
    throttle_status: int = 403


@dataclass(slots=True)
class Admission:
    bucket: str
    up_front_cost: float
    throttled: bool
    started: float  # the clock reading the bucket was charged at


@dataclass(slots=True)
class _Bucket:
    count: float = 0.0
    last_touched: float | None = None
    in_flight: int = 0
    max_in_flight: int = 0


def bucket_key(token: str | None, client_ip: str) -> str:
    """The client identifier: ``token:<hash>`` for a token from the header or query string, else the IP.

    :param token: the access token, or None.
    :param client_ip: the client's address.
    :return: the key in ``Stats.max_in_flight_by_bucket``.
    """
    if token:
        return "token:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]
    return f"ip:{client_ip}"


def ruby_float(value: float) -> str:
    """Ruby's ``Float#to_s``, which is how Canvas writes the two throttle headers (``1.0e-05``, ``600.0``)."""
    text = repr(float(value))
    mantissa, sep, exponent = text.partition("e")
    if sep and "." not in mantissa:
        mantissa += ".0"
    return mantissa + sep + exponent


class Throttle:
    def __init__(self, settings: ThrottleSettings | None = None, clock: Callable[[], float] = time.monotonic):
        self.settings = settings or ThrottleSettings()
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self.requests = 0
        self.throttled = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._admitted_seconds = 0.0
        self._admitted_ended = 0

    def begin(self, key: str, *, force: bool = False) -> Admission:
        """Reserve the up-front cost and decide; ``force`` refuses regardless (``Fault.throttle``)."""
        settings = self.settings
        up_front = settings.up_front_cost
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket())
            self._increment(bucket, up_front)
            throttled = force or (settings.enabled and bucket.count >= settings.hwm)
            self.requests += 1
            self.throttled += throttled
            bucket.in_flight += 1
            bucket.max_in_flight = max(bucket.max_in_flight, bucket.in_flight)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            started = bucket.last_touched
        assert started is not None  # set by _increment
        return Admission(key, up_front, throttled, started)

    def end(self, admission: Admission, cost: float) -> float:
        """Refund the up-front cost, add the real cost; returns ``X-Rate-Limit-Remaining`` (hwm - count)."""
        with self._lock:
            bucket = self._buckets[admission.bucket]
            self._increment(bucket, cost - admission.up_front_cost)
            bucket.in_flight -= 1
            self.in_flight -= 1
            if not admission.throttled:
                assert bucket.last_touched is not None  # set by _increment
                self._admitted_seconds += bucket.last_touched - admission.started
                self._admitted_ended += 1
            return self.settings.hwm - bucket.count

    @property
    def mean_seconds_in_flight(self) -> float:
        """How long an admitted request stayed inside the throttle on average, since the last reset.

        That is the request duration the bucket sees (latency plus the server's own work), so the most
        requests per second a client can get through without a refusal is about
        ``hwm / up_front_cost / mean_seconds_in_flight``, a little under what the latency alone suggests.
        """
        with self._lock:
            return self._admitted_seconds / self._admitted_ended if self._admitted_ended else 0.0

    def level(self, key: str) -> float:
        """The bucket's count as of now (leaked, not written back)."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None or bucket.last_touched is None:
                return 0.0
            if bucket.count <= 0:
                return bucket.count
            return max(0.0, bucket.count - self.settings.outflow * (self._clock() - bucket.last_touched))

    def max_in_flight_by_bucket(self) -> dict[str, int]:
        with self._lock:
            return {key: bucket.max_in_flight for key, bucket in self._buckets.items()}

    def reset_counters(self) -> None:
        """Zero the counters; bucket levels stay, as they would on a real Canvas."""
        with self._lock:
            for bucket in self._buckets.values():
                bucket.max_in_flight = bucket.in_flight
            self.requests = self.throttled = 0
            self.max_in_flight = self.in_flight
            self._admitted_seconds = 0.0
            self._admitted_ended = 0

    def _increment(self, bucket: _Bucket, amount: float) -> None:
        """increment_bucket.lua: leak since the last touch, add, clamp to [0, maximum]."""
        now = self._clock()
        last = now if bucket.last_touched is None else bucket.last_touched
        count = bucket.count
        if count > 0:
            loss = self.settings.outflow * (now - last)
            if loss > 0:
                count -= loss
        count += amount
        bucket.count = min(max(count, 0.0), self.settings.maximum)
        bucket.last_touched = now
