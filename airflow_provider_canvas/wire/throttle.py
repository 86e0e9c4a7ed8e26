"""How many requests to keep in flight under Canvas's leaky-bucket throttle.

Canvas reserves an up-front cost (50 units by default) for every in-flight request in a bucket that is
"full" at a high-water mark (600), and refuses a request that arrives when the bucket is full. So the
bucket, not a rate, sets the ceiling: about a dozen requests in flight at once. Every answer reports
``X-Rate-Limit-Remaining`` (high-water mark minus the level after that request's refund), from which
the client can estimate the capacity: its own other requests in flight plus the room left, in units
of the up-front cost. Requests still travelling to or from the server make that estimate too high,
never too low, so the minimum over recent answers is used, and the limit is the largest number of
requests that keeps the bucket below the mark. The limit falls to a lower estimate at once but rises at
most one request per round trip, and, while other processes' requests are in the bucket, only by chance:
several processes sharing a token (each with its own governor, seeing the others only through the bucket)
all see the same room at the same moment, and if each took it they would overshoot together. A throttled
answer drops the limit to the requests that were in flight besides it. Pure values in, values out; the
locking and the random draw live in the hook's governor.
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
    high_water_mark: float = 600.0  # Canvas's default: the bucket is full at this level
    initial: int = 2  # before the first answer says how much room there is
    window: int = 24  # answers the capacity estimate is the minimum of
    # Divides the chance to rise (see rise_probability): at 3, four processes holding equal shares take, in
    # expectation, all the room there is in one round trip; two take a third of it.
    rise_damping: float = 3.0

    def capacity(self, others_in_flight: int, remaining: float) -> float:
        """Requests (in up-front-cost units) the bucket could hold right now, ours included."""
        return others_in_flight + remaining / self.up_front_cost

    def others_in_bucket(self, capacity: float) -> float:
        """Other processes' requests in the bucket: what fills it, less the capacity this process sees."""
        return self.high_water_mark / self.up_front_cost - capacity

    def limit_for(self, capacity: float | None, max_limit: int) -> int:
        """The most requests in flight that keep the bucket below its mark: strictly under ``capacity``."""
        if capacity is None or not math.isfinite(capacity):  # no throttle headers (or no usable ones)
            return max_limit
        return max(1, min(max_limit, math.ceil(capacity) - 1))

    def rise_probability(self, limit: int, target: int, capacity: float) -> float:
        """The chance that a process sharing the bucket takes one more request this round trip.

        Every process on the token sees the same room at about the same moment. Rising only by chance, in
        proportion to the room, lets the room fill over a few round trips instead of being taken by all of
        them at once (each rising one step into a room of one throttles all but one). Weighted by the share
        of the bucket the *others* hold, a process with little in flight rises more often than one with
        much: the room that opens up, above all when a process finishes, goes mostly to the small ones, so
        the processes' shares draw together and they finish closer together.
        """
        others = self.others_in_bucket(capacity)
        if others <= 0:
            return 1.0
        others_share = others / (limit + others)
        return min(1.0, max(0, target - limit) * others_share / self.rise_damping)

    def rise(
        self, limit: int, target: int, credit: float, capacity: float | None, draw: float = 0.0
    ) -> tuple[int, float]:
        """Rise towards ``target``: at most one request per round trip (``credit`` counts clean answers /
        limit), and while others are in the bucket only if ``draw`` (uniform in [0, 1)) falls under
        :meth:`rise_probability`. A round trip's chance is used or lost: the credit starts again either way.

        One step per round trip lets each process see the others' steps before its next one (TCP's
        congestion avoidance, for the same reason). A client whose estimate says the whole bucket is its own
        (nobody else's requests in it) rises one step per answer instead, so a lone bulk call is not slowed
        at its start, and a process left alone takes the room of those that finished at once. Without
        throttle headers (``capacity`` None) nothing says who else is there: one step per round trip.
        """
        if capacity is not None and self.others_in_bucket(capacity) <= 0.5:  # alone in the bucket
            return min(target, limit + 1), 0.0
        if credit < 1.0 - 1e-9:  # n answers of 1/n each may add up to a hair under 1
            return limit, credit
        if capacity is not None and draw >= self.rise_probability(limit, target, capacity):
            return limit, 0.0
        return min(target, limit + 1), 0.0

    def cap_after_throttle(self, others_in_flight: int) -> int:
        """One more request than ``others_in_flight`` was too many."""
        return max(1, others_in_flight)
