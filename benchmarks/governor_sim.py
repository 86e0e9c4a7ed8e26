"""A discrete-event model of N processes, each with the hook's own ``Governor``, sharing one token's bucket.

Not a measurement: a model to reason about the governor without a busy machine's noise. Simulated time
drives the fake's real ``Throttle`` (Canvas's leaky bucket) and one real ``Governor`` per process; each
process has 16 worker threads listing its share of the users, one request each. A request spends half the
client time before reaching the bucket and half after leaving it, and ``latency`` (+-20%) inside it; a
throttled answer comes back at once and its user is retried after 0.5-1 s.

    python -m benchmarks.governor_sim                 # 1 and 4 processes at 1.5, 5 and 10 ms client time
    python -m benchmarks.governor_sim --processes 4 --client-ms 3 --seeds 5
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import statistics
from dataclasses import dataclass
from typing import Any

from airflow_provider_canvas.hooks._governor import Governor
from airflow_provider_canvas.testing.throttle import Throttle

THREADS = 16


@dataclass
class Result:
    share: float  # users listed per second, as a share of the ceiling (12 in flight / latency)
    throttled: int
    finished: list[float]  # when each process listed its last user


def simulate(
    processes: int, users: int = 2000, latency: float = 0.05, client: float = 0.0015, seed: int = 1
) -> Result:
    rng = random.Random(seed)
    clock = [0.0]
    bucket = Throttle(clock=lambda: clock[0])
    # Each governor draws its chances to rise from a generator of its own: a run repeats for a seed, and the
    # model's latencies do not shift with the number of draws the governors make.
    governors = [Governor(16, rng=random.Random(seed * 100 + p).random) for p in range(processes)]
    waiting = [users // processes] * processes  # users not yet started
    listed = [0] * processes
    idle = [THREADS] * processes
    finished = [0.0] * processes
    throttled = 0
    events: list[tuple[float, int, str, int, Any]] = []
    order = itertools.count()

    def at(delay: float, kind: str, process: int, data: Any = None) -> None:
        heapq.heappush(events, (clock[0] + delay, next(order), kind, process, data))

    def send(process: int) -> None:
        governors[process]._in_flight += 1
        governors[process].requests += 1
        at(client * rng.uniform(0.25, 0.75), "arrive", process)

    def start_what_fits() -> None:
        for process, governor in enumerate(governors):
            while idle[process] and waiting[process] and governor._in_flight < governor.limit:
                idle[process] -= 1
                waiting[process] -= 1
                send(process)

    start_what_fits()
    while events:
        clock[0], _, kind, process, data = heapq.heappop(events)
        governor = governors[process]
        if kind == "arrive":
            admission = bucket.begin("token")
            spent = 0.001 if admission.throttled else latency * rng.uniform(0.8, 1.2)
            at(spent, "leave", process, admission)
        elif kind == "leave":
            remaining = bucket.end(data, 0.0 if data.throttled else 0.01)
            at(client * rng.uniform(0.25, 0.75), "answer", process, (remaining, data.throttled))
        elif kind == "answer":
            remaining, was_throttled = data
            governor.observe(remaining=None if was_throttled else remaining, throttled=was_throttled)
            governor._in_flight -= 1
            if was_throttled:
                throttled += 1
                at(rng.uniform(0.5, 1.0), "retry", process)
            else:
                listed[process] += 1
                idle[process] += 1
                finished[process] = clock[0]
        elif governor._in_flight < governor.limit:  # a retry whose backoff is over
            send(process)
        else:
            at(0.002, "retry", process)
        start_what_fits()
    wall = max(finished)
    return Result(sum(listed) / wall / (12 / latency), throttled, [round(t, 2) for t in finished])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.governor_sim", description=__doc__)
    parser.add_argument("--processes", type=int, action="append", help="processes on the token (repeatable)")
    parser.add_argument(
        "--client-ms", type=float, action="append", help="client time per request (repeatable)"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--users", type=int, default=2000)
    args = parser.parse_args(argv)
    for client in args.client_ms or [1.5, 5.0, 10.0]:
        for processes in args.processes or [1, 4]:
            runs = [simulate(processes, args.users, client=client / 1000, seed=s) for s in range(args.seeds)]
            spread = statistics.mean(max(r.finished) - min(r.finished) for r in runs)
            print(
                f"client {client:4.1f} ms, {processes} process(es): "
                f"{statistics.mean(r.share for r in runs):.1%} of the ceiling "
                f"({', '.join(f'{r.share:.1%}' for r in runs)}), "
                f"throttled {statistics.mean(r.throttled for r in runs):.1f} per run, "
                f"finish spread {spread:.2f} s"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
