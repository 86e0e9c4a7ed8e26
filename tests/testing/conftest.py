"""Fixtures for the fake Canvas's own tests: a started server and a small ``requests`` client for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_canvas.testing import FakeCanvas


class Api:
    """Speaks HTTP to the fake with ``requests``; authenticates as the site admin unless told otherwise."""

    def __init__(self, canvas: FakeCanvas) -> None:
        self.canvas = canvas
        self.session = requests.Session()

    def url(self, path: str) -> str:
        return f"{self.canvas.base_url}/api/v1/{path.lstrip('/')}"

    def request(
        self, method: str, path: str, *, token: str | None = None, anonymous: bool = False, **kwargs: Any
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if not anonymous:
            headers["Authorization"] = f"Bearer {token or self.canvas.admin_token}"
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.url(path), headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create(
        self, user: int | str, address: str, kind: str = "email", *, skip: bool = True, **kwargs: Any
    ) -> requests.Response:
        data = {"communication_channel[address]": address, "communication_channel[type]": kind}
        if skip:
            data["skip_confirmation"] = "true"
        return self.post(f"users/{user}/communication_channels", data=data, **kwargs)


@pytest.fixture
def canvas() -> Iterator[FakeCanvas]:
    with FakeCanvas() as fake:
        yield fake


@pytest.fixture
def api(canvas: FakeCanvas) -> Iterator[Api]:
    client = Api(canvas)
    yield client
    client.session.close()


@pytest.fixture
def students(canvas: FakeCanvas) -> list[int]:
    """Ids of the three seeded demo students (sis ids demo-student-1..3), which follow the plain user."""
    return [canvas.user_user_id + n for n in (1, 2, 3)]
