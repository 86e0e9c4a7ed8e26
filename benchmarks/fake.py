"""The fake Canvas as a child process, plus a small client for its ``/__fake__/`` control routes.

The fake runs in its own process so its request handling (CPU and GIL) never counts against the client
being measured; the control routes give the counters and the state without going through the throttle.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Ceiling:
    """The throttle's ceiling for one client: the lower of the in-flight bound and the cost bound."""

    in_flight: int  # floor(hwm / up-front cost): requests in flight that fill the bucket by themselves
    in_flight_bound: float  # requests per second: in_flight / latency
    cost_bound: float  # requests per second: outflow per second / cost per request

    @property
    def requests_per_second(self) -> float:
        return min(self.in_flight_bound, self.cost_bound)

    def at_duration(self, seconds: float) -> float:
        """Requests per second when each request stays ``seconds`` in the bucket (latency plus the server's
        own work), where ``requests_per_second`` counts the latency alone."""
        return min(self.in_flight / seconds if seconds > 0 else math.inf, self.cost_bound)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Ceiling:
        throttle = settings["throttle"]
        latency = float(settings["latency"])
        in_flight = math.floor(throttle["hwm"] / throttle["up_front_cost"])
        in_flight_bound = in_flight / latency if latency > 0 else math.inf
        cost_bound = throttle["outflow"] / throttle["cost"] if throttle["cost"] > 0 else math.inf
        return cls(in_flight, in_flight_bound, cost_bound)


class FakeProcess:
    """``python -m airflow_provider_canvas.testing`` as a child process; a context manager that stops it.

    ``users`` seeded users (SIS ids ``student000001``..) get ``channels`` active e-mail channels each.
    """

    def __init__(self, *, latency: float, users: int = 0, channels: int = 0) -> None:
        self.args = [
            sys.executable,
            "-m",
            "airflow_provider_canvas.testing",
            "--no-demo",
            "--latency",
            repr(latency),
        ]
        if users:
            self.args += ["--seed-users", str(users)]
        if channels:
            self.args += ["--seed-channels", str(channels)]
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None
        self._control = requests.Session()
        self.info: dict[str, Any] = {}

    def __enter__(self) -> FakeProcess:
        self._stderr = tempfile.TemporaryFile()
        try:
            self._process = subprocess.Popen(
                self.args, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=self._stderr, text=True
            )
            assert self._process.stdout is not None
            line = self._process.stdout.readline()
            if not line:
                raise RuntimeError(f"the fake Canvas did not start: {self._stderr_text()}")
            self.info = json.loads(line)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._control.close()
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-2000:]

    # ----- what the fake told us at start -----------------------------------------------------------

    @property
    def base_url(self) -> str:
        return str(self.info["base_url"])

    @property
    def user_ids(self) -> list[int]:
        seeded = self.info["seeded_users"]
        if not seeded["count"]:
            return []
        return list(range(seeded["first_id"], seeded["last_id"] + 1))

    # ----- control routes ---------------------------------------------------------------------------

    def _call(self, method: str, route: str, **kwargs: Any) -> Any:
        response = self._control.request(method, f"{self.base_url}/__fake__/{route}", timeout=60, **kwargs)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "stats")
        return result

    def reset_stats(self) -> None:
        self._call("POST", "stats/reset")

    def settings(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "settings")
        return result

    def ceiling(self) -> Ceiling:
        return Ceiling.from_settings(self.settings())

    def channels(self, *, include_retired: bool = False) -> list[dict[str, Any]]:
        params = {"include_retired": "true"} if include_retired else None
        result: list[dict[str, Any]] = self._call("GET", "channels", params=params)
        return result

    def new_token(self) -> str:
        """A fresh site-admin token: its own bucket on the fake, and its own governor in our hook."""
        return str(self._call("POST", "tokens", json={})["token"])
