"""A total deadline for each attempt of the sync transport: connect, headers and body together.

requests and urllib3 only bound each socket operation, so a server that drips a byte every second never
trips a 3-second read timeout (a body took 39 s, dripped headers 20 s). Here each attempt registers the
sockets it uses with one watchdog thread per process, which shuts them down when the attempt's deadline
passes: the blocked read fails at once and the hook reports a timeout. The watchdog holds its own
duplicate of each socket (``dup``), so shutting it down can never reach a file descriptor that the
connection has closed meanwhile and the OS has given to someone else.

The sockets are found through connection classes mounted on the hook's session only
(:class:`DeadlineAdapter`); without a current attempt they behave exactly like urllib3's own.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

__all__ = ["AttemptDeadline", "DeadlineAdapter", "attempt_deadline"]


class AttemptDeadline:
    """One attempt's deadline and the sockets it has used so far."""

    __slots__ = ("_lock", "_sockets", "closed", "deadline", "expired")

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self.closed = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def watch(self, sock: Any) -> None:
        try:
            duplicate = socket.fromfd(sock.fileno(), sock.family, sock.type)
        except (OSError, AttributeError, ValueError):
            return  # not a real socket (a test double), or already closed: nothing to guard
        with self._lock:
            if self.closed:
                duplicate.close()
                return
            self._sockets.append(duplicate)
            if self.expired:
                _shutdown(duplicate)

    def expire(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()


def _shutdown(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread per process that expires attempts at their deadlines (a heap of deadlines)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, AttemptDeadline]] = []
        self._order = itertools.count()
        self._live = 0
        self._thread: threading.Thread | None = None

    def add(self, attempt: AttemptDeadline) -> None:
        with self._cond:
            self._live += 1
            # Finished attempts stay in the heap until they reach its top; compact when they dominate,
            # so the heap follows the attempts in flight, not the requests made in the last timeout.
            if len(self._heap) > 64 and len(self._heap) > 2 * self._live:
                self._heap = [entry for entry in self._heap if not entry[2].closed]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (attempt.deadline, next(self._order), attempt))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="canvas-deadline", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is attempt:
                self._cond.notify()

    def done(self) -> None:
        with self._cond:
            self._live -= 1

    def _run(self) -> None:
        while True:
            due: list[AttemptDeadline] = []
            with self._cond:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].closed or self._heap[0][0] <= now):
                    attempt = heapq.heappop(self._heap)[2]
                    if not attempt.closed:
                        due.append(attempt)
                if not due:
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
            for attempt in due:
                attempt.expire()

    def reset_after_fork(self) -> None:
        self.__init__()  # type: ignore[misc]


_watchdog = _Watchdog()
if hasattr(os, "register_at_fork"):
    # A forked worker inherits neither the thread nor a usable lock: start afresh there.
    os.register_at_fork(after_in_child=_watchdog.reset_after_fork)
_current = threading.local()


@contextmanager
def attempt_deadline(seconds: float) -> Iterator[AttemptDeadline]:
    """The deadline of the attempt made in this thread inside the block."""
    attempt = AttemptDeadline(seconds)
    _watchdog.add(attempt)
    _current.attempt = attempt
    try:
        yield attempt
    finally:
        _current.attempt = None
        attempt.close()
        _watchdog.done()


def _watch(sock: Any) -> None:
    attempt: AttemptDeadline | None = getattr(_current, "attempt", None)
    if attempt is not None and sock is not None:
        attempt.watch(sock)


class _Guarded:
    """Hands each socket to the current attempt: a new one as soon as it exists (so a dripped TLS
    handshake is bounded too), a kept-alive one when a request is sent on it."""

    sock: Any

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        _watch(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


_POOLS = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


def _guard(manager: PoolManager) -> PoolManager:
    if set(manager.pool_classes_by_scheme) <= set(_POOLS):  # not a SOCKS proxy manager's own classes
        manager.pool_classes_by_scheme = _POOLS
    return manager


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter with the connection classes above, for direct and proxied connections."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _guard(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        return _guard(super().proxy_manager_for(proxy, **proxy_kwargs))
