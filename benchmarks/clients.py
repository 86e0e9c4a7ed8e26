"""The clients being compared: our hook's bulk call and the ways people list channels without it.

Each client lists every given user's channels and returns ``(users listed, users failed)``; the fake's
own counters (requests, throttled answers, peak in flight) are read around it by :func:`measure`. The
baselines do what their authors' documentation shows and nothing more: no retries, so a throttled answer
is a failure, exactly as it would be in production.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import requests
from canvasapi import Canvas
from canvasapi.exceptions import CanvasException
from canvasapi.user import User
from requests.adapters import HTTPAdapter

from airflow_provider_canvas.hooks.canvas import CanvasHook
from benchmarks.fake import FakeProcess

PER_PAGE = 100
TIMEOUT = 30.0
_connection_numbers = itertools.count(1)

ListClient = Callable[[FakeProcess, str, Sequence[int]], tuple[int, int]]


@dataclass
class RunResult:
    client: str
    users: int
    ok: int  # users whose channels were all listed
    failures: int  # users that could not be listed (throttled, or any other error)
    wall: float  # seconds
    cpu: float  # seconds of this (client) process, all threads
    requests: int  # as the fake counted them, retries included
    throttled: int  # answers the fake's throttle refused
    max_in_flight: int  # most of this client's requests inside the fake at once
    mean_seconds_in_flight: float  # how long an admitted request stayed inside the fake's throttle

    @property
    def throughput(self) -> float:
        """Users listed per second (one page each here, so also requests per second)."""
        return self.ok / self.wall if self.wall > 0 else 0.0

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["throughput"] = self.throughput
        data["throttled_share"] = self.throttled_share
        return data


def measure(name: str, fake: FakeProcess, client: ListClient, user_ids: Sequence[int]) -> RunResult:
    """Run one client with a fresh token (own bucket, own governor) and read the fake's counters around it."""
    token = fake.new_token()
    fake.reset_stats()
    cpu, started = time.process_time(), time.perf_counter()
    ok, failures = client(fake, token, user_ids)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    stats = fake.stats()
    return RunResult(
        client=name,
        users=len(user_ids),
        ok=ok,
        failures=failures,
        wall=wall,
        cpu=cpu,
        requests=stats["requests"],
        throttled=stats["throttled"],
        max_in_flight=stats["max_in_flight"],
        mean_seconds_in_flight=stats["mean_seconds_in_flight"],
    )


def warm_up(fake: FakeProcess, user_ids: Sequence[int]) -> None:
    """Pay the one-off costs (Airflow's connection lookup, lazy imports) before anything is timed.

    A DAG's task has paid them before its first request too; they are not what is being compared.
    """
    sample = list(user_ids[:3])
    for client in (ours(), canvasapi_loop, requests_loop):
        client(fake, fake.new_token(), sample)


# ----- ours ---------------------------------------------------------------------------------------------


@contextmanager
def canvas_hook(fake: FakeProcess, token: str, **extra: Any) -> Iterator[CanvasHook]:
    """A CanvasHook on a connection of its own (``AIRFLOW_CONN_...`` in JSON form), closed afterwards."""
    conn_id = f"canvas_bench_{next(_connection_numbers)}"
    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    os.environ[variable] = json.dumps(
        {"conn_type": "canvas", "host": fake.base_url, "password": token, "extra": extra}
    )
    hook = CanvasHook(canvas_conn_id=conn_id)
    try:
        yield hook
    finally:
        hook.close()
        os.environ.pop(variable, None)


def ours(max_concurrency: int | None = None) -> ListClient:
    """``hook.iter_communication_channels_for_users``: the connection's defaults unless told otherwise."""

    def run(fake: FakeProcess, token: str, user_ids: Sequence[int]) -> tuple[int, int]:
        ok = failures = 0
        with canvas_hook(fake, token) as hook:
            for _, result in hook.iter_communication_channels_for_users(
                user_ids, max_concurrency=max_concurrency
            ):
                if isinstance(result, list):
                    ok += 1
                else:
                    failures += 1
        return ok, failures

    return run


# ----- canvasapi ----------------------------------------------------------------------------------------


def canvasapi_loop(fake: FakeProcess, token: str, user_ids: Sequence[int]) -> tuple[int, int]:
    """canvasapi, one user at a time, iterating each user's ``PaginatedList``.

    The usual idiom, ``canvas.get_user(id).get_communication_channels()``, costs a second request per user
    to fetch the user; building the ``User`` from its id makes canvasapi send the same one request per user
    as every other client here.
    """
    ok = failures = 0
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Canvas may respond unexpectedly", UserWarning)
        canvas = Canvas(fake.base_url, token)
        requester = canvas._Canvas__requester  # how canvasapi itself builds objects from ids
        for user_id in user_ids:
            try:
                for _ in User(requester, {"id": user_id}).get_communication_channels():
                    pass
            except CanvasException:  # canvasapi raises Forbidden for Canvas's 403 throttle answer
                failures += 1
            else:
                ok += 1
    return ok, failures


# ----- plain requests -----------------------------------------------------------------------------------


def _session(token: str, pool: int = 10) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _list_user(session: requests.Session, base_url: str, user_id: int) -> bool:
    """Every page of one user's channels with ``requests``' own Link parsing; False on any non-200."""
    url: str | None = f"{base_url}/api/v1/users/{user_id}/communication_channels"
    params: dict[str, Any] | None = {"per_page": PER_PAGE}
    while url:
        response = session.get(url, params=params, timeout=TIMEOUT)
        if response.status_code != 200:
            return False
        response.json()
        url = response.links.get("next", {}).get("url")
        params = None
    return True


def requests_loop(fake: FakeProcess, token: str, user_ids: Sequence[int]) -> tuple[int, int]:
    """A ``requests.Session``, one user after the other."""
    ok = failures = 0
    with _session(token) as session:
        for user_id in user_ids:
            try:
                listed = _list_user(session, fake.base_url, user_id)
            except requests.RequestException:
                listed = False
            ok += listed
            failures += not listed
    return ok, failures


def naive_pool(threads: int) -> ListClient:
    """A fixed pool of ``threads`` threads sharing one ``requests.Session``: no retries, no throttle logic."""

    def run(fake: FakeProcess, token: str, user_ids: Sequence[int]) -> tuple[int, int]:
        lock = threading.Lock()
        counts = [0, 0]

        def fetch(user_id: int) -> None:
            try:
                listed = _list_user(session, fake.base_url, user_id)
            except requests.RequestException:
                listed = False
            with lock:
                counts[0 if listed else 1] += 1

        with _session(token, pool=threads) as session, ThreadPoolExecutor(threads) as pool:
            list(pool.map(fetch, user_ids))
        return counts[0], counts[1]

    return run
