"""How many requests to keep in flight under Canvas's leaky-bucket throttle.

Canvas reserves an up-front cost (50 units by default) for every in-flight request in a bucket that is
"full" at a high-water mark (600), and refuses a request that arrives when the bucket is full. So the
bucket, not a rate, sets the ceiling: about a dozen requests in flight at once. Every answer reports
``X-Rate-Limit-Remaining`` (high-water mark minus the level after that request's refund), from which
the client can estimate the capacity: its own other requests in flight plus the room left, in units
of the up-front cost. Requests still travelling to or from the server make that estimate too high,
never too low, so the minimum over recent answers is used, and the limit is the largest number of
requests that keeps the bucket below the mark. A throttled answer caps the limit below what was in
flight; the cap relaxes by one after a run of clean answers. Pure values in, values out; the locking
lives in the hook's governor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ConcurrencyPolicy", "rate_limit_value"]


def rate_limit_value(value: str | None) -> float | None:
    """A throttle header's number, or None: absent, unparsable, non-finite (``nan``, ``inf``, ``1e999``)
    and negative values all count as "no information", so one odd answer can never poison the governor."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


@dataclass(frozen=True)
class ConcurrencyPolicy:
    up_front_cost: float = 50.0  # Canvas's default reservation per in-flight request
    initial: int = 2  # before the first answer says how much room there is
    window: int = 24  # answers the capacity estimate is the minimum of
    relax_after: int = 50  # clean answers after a throttle before the cap rises by one

    def capacity(self, others_in_flight: int, remaining: float) -> float:
        """Requests (in up-front-cost units) the bucket could hold right now, ours included."""
        return others_in_flight + remaining / self.up_front_cost

    def limit_for(self, capacity: float | None, max_limit: int) -> int:
        """The most requests in flight that keep the bucket below its mark: strictly under ``capacity``."""
        if capacity is None or not math.isfinite(capacity):  # no throttle headers (or no usable ones)
            return max_limit
        return max(1, min(max_limit, math.ceil(capacity) - 1))

    def cap_after_throttle(self, others_in_flight: int) -> int:
        """One more request than ``others_in_flight`` was too many."""
        return max(1, others_in_flight)
