"""Run ``python -m airflow_provider_canvas.testing`` as a person or a script does: a process of its own."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "airflow_provider_canvas.testing"]


@dataclass
class FakeProcess:
    process: subprocess.Popen[str]
    info: dict[str, Any]  # the first line it printed
    stderr: str = field(default="")  # filled in once it stopped

    @property
    def base_url(self) -> str:
        return str(self.info["base_url"])

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A request to ``/api/v1/<path>`` with the site admin's token."""
        headers = {"Authorization": f"Bearer {self.info['admin_token']}", **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{self.base_url}/api/v1/{path}", headers=headers, timeout=10, **kwargs
        )

    def control(self, route: str, **params: str) -> Any:
        """``GET /__fake__/<route>`` as JSON."""
        response = requests.get(f"{self.base_url}/__fake__/{route}", params=params, timeout=10)
        response.raise_for_status()
        return response.json()


@contextmanager
def running_fake(*args: str, cwd: Path = REPO_ROOT) -> Iterator[FakeProcess]:
    """Start the fake with ``args``, read its JSON line, and stop it with SIGTERM afterwards (it must exit 0)."""
    process = subprocess.Popen(
        [*COMMAND, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    fake: FakeProcess | None = None
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            _, err = process.communicate(timeout=10)
            raise AssertionError(f"the fake did not start (exit {process.returncode}): {err}")
        fake = FakeProcess(process, json.loads(line))
        yield fake
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            _, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        if fake is not None:
            fake.stderr = err
    assert process.returncode == 0, f"the fake exited {process.returncode} on SIGTERM: {err}"


def run_fake_expecting_failure(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command with arguments it must refuse before it starts serving."""
    return subprocess.run([*COMMAND, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
