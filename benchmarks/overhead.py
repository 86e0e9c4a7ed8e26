"""Section ``overhead``: client CPU per request at zero latency, our hook against plain ``requests``.

The fake runs in another process with no latency, so the process CPU time of this process (all threads)
is the client's alone. Each client makes the same GETs (one page of a user's channels) and decodes the
JSON; rounds are interleaved and the median round is kept, which damps the noise of a shared machine.
Our hook's INFO line per request is formatted as in a task but written to /dev/null.

``--profile`` also runs the hook's loop under cProfile and lists the functions its CPU goes to.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from benchmarks import clients
from benchmarks.config import CHANNELS_PER_USER, Config
from benchmarks.fake import FakeProcess
from benchmarks.report import Column, Section, Target, microseconds, ratio

TARGET = 1.3
USERS = 50
PROFILE_LINES = 25

COLUMNS = (
    Column("client", "client"),
    Column("requests", "requests/round"),
    Column("cpu_per_request", "CPU/request", microseconds),
    Column("wall_per_request", "wall/request", microseconds),
    Column("vs_plain", "CPU vs plain", ratio),
)


def _cycle(users: list[int], n: int) -> list[int]:
    return [users[i % len(users)] for i in range(n)]


def _plain(fake: FakeProcess, token: str) -> Callable[[list[int]], None]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    base = fake.base_url

    def run(users: list[int]) -> None:
        for user in users:
            session.get(
                f"{base}/api/v1/users/{user}/communication_channels",
                params={"per_page": clients.PER_PAGE},
                timeout=clients.TIMEOUT,
            ).json()

    return run


def _hook_single(hook: Any) -> Callable[[list[int]], None]:
    def run(users: list[int]) -> None:
        for user in users:
            hook.list_communication_channels(user)

    return run


def _hook_bulk(hook: Any) -> Callable[[list[int]], None]:
    def run(users: list[int]) -> None:
        for _, result in hook.iter_communication_channels_for_users(users, max_concurrency=1):
            if not isinstance(result, list):
                raise RuntimeError(f"listing failed: {result}")

    return run


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Logs formatted as usual, written nowhere: the formatting is client CPU, the terminal is not."""
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        yield


def _timed(fn: Callable[[list[int]], None], users: list[int]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    fn(users)
    return (time.process_time() - cpu) / len(users), (time.perf_counter() - wall) / len(users)


def _profile(fn: Callable[[list[int]], None], users: list[int]) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    fn(users)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(PROFILE_LINES)
    return text.getvalue()


def run(config: Config) -> Section:
    per_round = 300 if config.quick else 2000
    rounds = 3 if config.quick else 5
    with FakeProcess(latency=0.0, users=USERS, channels=CHANNELS_PER_USER) as fake, _quiet():
        users = _cycle(fake.user_ids, per_round)
        with (
            clients.canvas_hook(fake, fake.new_token()) as single,
            clients.canvas_hook(fake, fake.new_token()) as bulk,
        ):
            contenders = {
                "requests.Session: get + .json() (baseline)": _plain(fake, fake.new_token()),
                "ours: hook.list_communication_channels": _hook_single(single),
                "ours: iter_communication_channels_for_users, max_concurrency=1": _hook_bulk(bulk),
            }
            for fn in contenders.values():  # warm-up: connection lookup, pools, lazy imports
                fn(users[:USERS])
            samples: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
            for round_number in range(rounds):
                sys.stderr.write(f"bench overhead: round {round_number + 1} of {rounds} ...\n")
                for name, fn in contenders.items():
                    samples[name].append(_timed(fn, users))
            profile = (
                _profile(contenders["ours: hook.list_communication_channels"], users)
                if config.profile
                else ""
            )
    rows: list[dict[str, Any]] = []
    for name, values in samples.items():
        rows.append(
            {
                "client": name,
                "requests": per_round,
                "cpu_per_request": statistics.median(v[0] for v in values),
                "wall_per_request": statistics.median(v[1] for v in values),
                "cpu_samples": [v[0] for v in values],
            }
        )
    plain = rows[0]["cpu_per_request"]
    for row in rows:
        row["vs_plain"] = row["cpu_per_request"] / plain
    targets = [
        Target(
            f"CPU per request vs plain requests, {row['client'][6:]}",
            f"<= {TARGET:g}x",
            ratio(row["vs_plain"]),
            row["vs_plain"] <= TARGET,
        )
        for row in rows[1:]
    ]
    notes = [
        (
            f"median of {rounds} interleaved rounds of {per_round} GETs; fake without latency in another "
            "process; CPU = this process's CPU time, all threads"
        ),
    ]
    section = Section(
        name="overhead",
        title="client CPU per request at zero latency",
        params={"latency": "0 s"},
        columns=COLUMNS,
        rows=rows,
        targets=targets,
        notes=notes,
    )
    if profile:
        section.data["profile"] = profile
        notes.append("profile of the hook's loop (cProfile, by own time):\n" + profile)
        if config.out is not None:
            (config.out / "overhead-profile.txt").write_text(profile)
    return section
