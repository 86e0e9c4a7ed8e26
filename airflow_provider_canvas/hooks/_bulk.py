"""A streaming, bounded, threaded map for bulk Canvas calls, with progress lines at a steady interval.

Items are consumed lazily and at most ``2 x workers`` results are pending at once, so memory follows the
work in flight, not the number of users; results come back in completion order.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol, TypeVar

__all__ = ["ChannelChange", "Progress", "bulk_map"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ChannelChange:
    """One planned write of a bulk sync: create ``address`` for ``user_id``, or delete a channel.

    :ivar action: ``"create"`` or ``"delete"``.
    :ivar user_id: the user, in any form the hook accepts (``"sis_user_id:S1"``, ``"42"``, ...).
    :ivar channel_type: ``"email"`` or ``"sms"``.
    :ivar address: the channel's address.
    :ivar channel_id: for a delete, the channel's id when known (else it goes by type and address).
    """

    action: Literal["create", "delete"]
    user_id: str
    channel_type: str
    address: str
    channel_id: int | None = None


class _Logger(Protocol):
    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...


class Progress:
    """Counts finished items and logs done/total, rate, throttles so far and ETA every ``interval`` s."""

    def __init__(
        self,
        label: str,
        total: int | None,
        log: _Logger,
        *,
        interval: float,
        throttled: Callable[[], int],
        requests: Callable[[], int],
        concurrency: Callable[[], int],
    ) -> None:
        self.label, self.total, self.log, self.interval = label, total, log, interval
        self._throttled, self._requests, self._concurrency = throttled, requests, concurrency
        self.done = 0
        self.started = time.monotonic()
        self._next_report = self.started + interval
        self._requests_at_start = requests()
        self._throttled_at_start = throttled()

    def tick(self, count: int = 1) -> None:
        self.done += count
        if time.monotonic() >= self._next_report:
            self.report()

    def report(self, final: bool = False) -> None:
        now = time.monotonic()
        self._next_report = now + self.interval
        elapsed = max(now - self.started, 1e-9)
        requests = self._requests() - self._requests_at_start
        throttled = self._throttled() - self._throttled_at_start
        of_total = f"/{self.total} ({100 * self.done / self.total:.0f}%)" if self.total else ""
        eta = ""
        if self.total and self.done and not final:
            eta = f", ETA {(self.total - self.done) * elapsed / self.done:.0f}s"
        self.log.info(
            "Canvas %s: %s%s %s in %.0fs, %.1f req/s, %d throttled, concurrency %d%s.",
            self.label,
            "done " if final else "",
            f"{self.done}{of_total}",
            "item" if (self.total or self.done) == 1 else "items",
            elapsed,
            requests / elapsed,
            throttled,
            self._concurrency(),
            eta,
        )


def bulk_map(
    fn: Callable[[T], R], items: Iterable[T], *, workers: int, progress: Progress | None = None
) -> Iterator[tuple[T, R]]:
    """Yield ``(item, fn(item))`` as they finish; ``fn`` must not raise (return errors as values).

    Finished work arrives through a queue fed by done-callbacks, so the cost per item does not grow with
    the number of pending futures (``concurrent.futures.wait`` re-arms a waiter on each of them).
    """
    source = iter(items)
    finished: queue.SimpleQueue[tuple[T, Future[R]]] = queue.SimpleQueue()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="canvas-bulk")
    pending = 0

    def submit_up_to(window: int) -> None:
        nonlocal pending
        while pending < window:
            try:
                item = next(source)
            except StopIteration:
                return
            future = pool.submit(fn, item)
            future.add_done_callback(partial(_deliver, finished, item))
            pending += 1

    try:
        submit_up_to(2 * workers)
        while pending:
            try:
                item, future = finished.get(timeout=progress.interval if progress else None)
            except queue.Empty:
                if progress:
                    progress.report()
                continue
            pending -= 1
            yield item, future.result()
            if progress:
                progress.tick()
            submit_up_to(2 * workers)
        if progress:
            progress.report(final=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _deliver(finished: queue.SimpleQueue[tuple[T, Future[R]]], item: T, future: Future[R]) -> None:
    finished.put((item, future))


def known_length(items: Iterable[Any]) -> int | None:
    return len(items) if isinstance(items, Sized) else None
