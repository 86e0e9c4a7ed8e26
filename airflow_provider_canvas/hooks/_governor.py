"""One concurrency governor per Canvas origin and token, shared by every hook in the process.

Canvas throttles per access token, so two bulk calls (or a bulk call and a sensor) using the same
token must share one view of the bucket; the decisions come from :class:`ConcurrencyPolicy`.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from airflow_provider_canvas.wire.throttle import ConcurrencyPolicy

__all__ = ["Governor", "governor_for"]


class Governor:
    """Blocks callers while the adaptive number of in-flight requests is reached."""

    def __init__(
        self,
        max_concurrency: int,
        policy: ConcurrencyPolicy | None = None,
        *,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy or ConcurrencyPolicy()
        self._rng = rng  # the draws of ConcurrencyPolicy.rise; a fixed one in tests and the model
        self.max_concurrency = max_concurrency
        self._estimates: deque[float] = deque(maxlen=self.policy.window)
        self._credit = 0.0  # clean answers since the last rise, in units of the limit (round trips)
        self._in_flight = 0
        self._cond = threading.Condition()
        self.limit = min(self.policy.initial, max_concurrency)
        self.requests = 0
        self.throttled = 0
        self.peak_in_flight = 0

    def set_max(self, max_concurrency: int) -> None:
        with self._cond:
            self.max_concurrency = max_concurrency
            self._update_limit()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1
            self.requests += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify()

    def observe(self, *, remaining: float | None, throttled: bool) -> None:
        """Feed one answer's throttle signals back into the limit; called while the answer's slot is held.

        Called after the slot is released, a request another thread started in it meanwhile would be
        counted as in the bucket, when it is not yet: the room would look one request larger than it is.
        """
        with self._cond:
            others = max(self._in_flight - 1, 0)
            if throttled:
                # One more than the others in flight was too many: drop to them, and climb back one step
                # per round trip from fresh estimates.
                self.throttled += 1
                self.limit = min(self.limit, self.policy.cap_after_throttle(others))
                self._estimates.clear()
                self._credit = 0.0
            elif remaining is not None:
                self._estimates.append(self.policy.capacity(others, remaining))
                self._credit += 1 / max(self.limit, 1)
            # An answer without a usable X-Rate-Limit-Remaining (absent, or nan/inf/negative/garbage, which
            # the hook hands over as None) says nothing about the bucket: the estimates stay as they were.
            self._update_limit()

    def _update_limit(self) -> None:
        before = self.limit
        capacity = min(self._estimates) if self._estimates else None
        if capacity is None and not self.requests:
            limit = min(self.policy.initial, self.max_concurrency)
        else:
            limit = self.policy.limit_for(capacity, self.max_concurrency)
        if limit > before and self.requests:
            limit, self._credit = self.policy.rise(before, limit, self._credit, capacity, self._rng())
        self.limit = limit
        if limit > before:
            self._cond.notify_all()


_registry: dict[tuple[str, str], Governor] = {}
_registry_lock = threading.Lock()


def governor_for(base_url: str, token: str, max_concurrency: int) -> Governor:
    key = (base_url, hashlib.sha256(token.encode()).hexdigest())
    with _registry_lock:
        governor = _registry.get(key)
        if governor is None:
            governor = _registry[key] = Governor(max_concurrency)
        return governor
