"""One streaming measurement in a fresh process: list channels, count them, report the peak memory.

Run by the ``streaming`` section as ``python -m benchmarks.memory_worker`` so that every client starts
from the same clean heap and nothing another client left behind is counted. Imports and the one-off
costs of a first request (connection lookup, lazy imports) happen before measuring starts; what is
measured is the listing itself, one of two ways:

* ``--metric tracemalloc``: the peak of Python allocations during the listing (exact, but tracing slows
  allocation-heavy code such as canvasapi's date parsing about sevenfold);
* ``--metric rss``: the growth of the process's peak resident set during the listing (everything,
  including C allocations, at full speed): Linux's high-water mark is reset just before (``clear_refs``).

The result is one JSON line on stdout; whatever the code under test logs goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable


def _ours(
    base_url: str, token: str, shape: str, user_ids: list[int]
) -> tuple[Callable[[], int], Callable[[], int]]:
    os.environ["AIRFLOW_CONN_CANVAS_MEMORY"] = json.dumps(
        {"conn_type": "canvas", "host": base_url, "password": token}
    )
    from airflow_provider_canvas.hooks.canvas import CanvasHook

    hook = CanvasHook(canvas_conn_id="canvas_memory")

    def one_user(users: list[int]) -> int:
        return sum(1 for _ in hook.iter_communication_channels(users[0]))

    def bulk(users: list[int]) -> int:
        listed = 0
        for _, channels in hook.iter_communication_channels_for_users(users):
            if not isinstance(channels, list):
                raise RuntimeError(f"listing failed: {channels}")
            listed += len(channels)
        return listed

    fn = one_user if shape == "one-user" else bulk
    return (lambda: fn([1])), (lambda: fn(user_ids))  # user 1 (the site admin) has no channels: warm-up


def _canvasapi(
    base_url: str, token: str, shape: str, user_ids: list[int]
) -> tuple[Callable[[], int], Callable[[], int]]:
    from canvasapi import Canvas
    from canvasapi.user import User

    warnings.filterwarnings("ignore", "Canvas may respond unexpectedly", UserWarning)
    requester = Canvas(base_url, token)._Canvas__requester

    def listing(users: list[int]) -> int:
        listed = 0
        for user_id in users:  # each user's PaginatedList is iterated, then dropped
            for _ in User(requester, {"id": user_id}).get_communication_channels():
                listed += 1
        return listed

    return (lambda: listing([1])), (lambda: listing(user_ids))


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _measure_rss(listing: Callable[[], int]) -> tuple[int, int]:
    gc.collect()
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
        clear_refs.write("5")  # reset the peak resident set (VmHWM) to the current one
    before = _status_kib("VmRSS")
    channels = listing()
    return channels, (_status_kib("VmHWM") - before) * 1024


def _measure_tracemalloc(listing: Callable[[], int]) -> tuple[int, int]:
    gc.collect()
    tracemalloc.start()
    try:
        channels = listing()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return channels, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory_worker")
    parser.add_argument("--client", choices=("ours", "canvasapi"), required=True)
    parser.add_argument("--shape", choices=("one-user", "bulk"), required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--first-user", type=int, required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--metric", choices=("tracemalloc", "rss"), required=True)
    args = parser.parse_args(argv)
    user_ids = list(range(args.first_user, args.first_user + args.users))
    report = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # Airflow's logging writes to stdout
        make = _ours if args.client == "ours" else _canvasapi
        warm_up, listing = make(args.base_url, args.token, args.shape, user_ids)
        warm_up()
        measure = _measure_rss if args.metric == "rss" else _measure_tracemalloc
        started = time.perf_counter()
        channels, peak = measure(listing)
        seconds = time.perf_counter() - started
    report.write(json.dumps({"channels": channels, "peak_bytes": peak, "seconds": seconds}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
