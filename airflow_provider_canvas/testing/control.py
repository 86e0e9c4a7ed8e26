"""Control routes under ``/__fake__/``: read counters and state, and mint tokens, from another process.

A test that runs the fake in-process calls ``canvas.stats`` or ``canvas.channels()`` directly. A benchmark
runs it as a subprocess (``python -m airflow_provider_canvas.testing``) so the server's CPU and GIL do not
distort the client being measured, and then needs the same views over HTTP. These routes give them:

* ``GET /__fake__/stats``: the counters of :class:`~airflow_provider_canvas.testing.Stats` as JSON
  (``requests``, ``throttled``, ``faults``, ``in_flight``, ``max_in_flight``, ``max_in_flight_by_bucket``,
  ``mean_seconds_in_flight``).
* ``POST /__fake__/stats/reset``: zero the counters (bucket levels stay, as ``reset_stats()``); returns them.
* ``GET /__fake__/settings``: ``latency``, ``per_page_max`` and the throttle parameters (``hwm``,
  ``maximum``, ``outflow``, ``up_front_cost``, ``cost``, ``enabled``, ``throttle_status``), from which a
  client can compute the throttle's ceiling.
* ``GET /__fake__/channels``: every channel in Canvas's JSON shape (``?include_retired=true`` adds retired
  ones), as ``all_channels()``.
* ``GET /__fake__/users``: every user with ``id``, ``name``, ``sis_user_id``, ``login_id``,
  ``integration_id`` and ``channels`` (``?include_retired=true`` as above), as ``users()``: what a seed
  file made, and what a DAG changed, user by user.
* ``POST /__fake__/tokens``: a new access token, so each measured client gets a bucket of its own. JSON body
  (all optional): ``user_id`` (default: the site admin), ``site_admin``, ``account_admin``,
  ``manage_students`` (default true), ``push_enabled``. Answers ``{"token": ..., "user_id": ...}``.

They live outside ``/api/v1`` (Canvas has nothing there), need no token, and bypass the throttle, latency,
faults, counters and request records, so observing a run does not change it. Anything else under
``/__fake__/`` is a 404. ``FakeCanvas(control_routes=False)`` turns them off (a plain Canvas 404 again).
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

from .messages import Request, Response, json_response

if TYPE_CHECKING:
    from .server import FakeCanvas

CONTROL_PREFIX = "/__fake__/"

__all__ = ["CONTROL_PREFIX", "ControlRoutes"]


def _error(status: int, message: str) -> Response:
    return json_response(status, {"errors": [{"message": message}]})


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _query_flag(query: str, name: str) -> bool:
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return _truthy(value)
    return False


class ControlRoutes:
    """Answers the ``/__fake__/`` routes for one :class:`FakeCanvas`; called by the HTTP pipeline."""

    def __init__(self, canvas: FakeCanvas) -> None:
        self._canvas = canvas

    def __call__(self, request: Request) -> Response:
        route = request.path[len(CONTROL_PREFIX) :].strip("/")
        method = "GET" if request.method == "HEAD" else request.method
        handlers = {
            ("GET", "stats"): self._stats,
            ("POST", "stats/reset"): self._reset_stats,
            ("GET", "settings"): self._settings,
            ("GET", "channels"): self._channels,
            ("GET", "users"): self._users,
            ("POST", "tokens"): self._new_token,
        }
        handler = handlers.get((method, route))
        if handler is None:
            known = any(path == route for _, path in handlers)
            return _error(405 if known else 404, f"no control route {request.method} {request.path}")
        try:
            return handler(request)
        except ValueError as error:
            return _error(400, str(error))

    def _stats(self, request: Request) -> Response:
        return json_response(200, dataclasses.asdict(self._canvas.stats))

    def _reset_stats(self, request: Request) -> Response:
        self._canvas.reset_stats()
        return self._stats(request)

    def _settings(self, request: Request) -> Response:
        canvas = self._canvas
        return json_response(
            200,
            {
                "latency": canvas.latency,
                "per_page_max": canvas.per_page_max,
                "throttle": dataclasses.asdict(canvas.throttle),
            },
        )

    def _channels(self, request: Request) -> Response:
        include_retired = _query_flag(request.query, "include_retired")
        return json_response(200, self._canvas.all_channels(include_retired=include_retired))

    def _users(self, request: Request) -> Response:
        include_retired = _query_flag(request.query, "include_retired")
        return json_response(200, self._canvas.users(include_retired=include_retired))

    def _new_token(self, request: Request) -> Response:
        try:
            body = json.loads(request.body) if request.body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            raise ValueError("the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        canvas = self._canvas
        user_id = body.get("user_id", canvas.admin_user_id)
        if isinstance(user_id, bool) or not isinstance(user_id, int):
            raise ValueError(f"user_id must be an integer; got {user_id!r}")
        flags = {name: body.get(name, False) for name in ("site_admin", "account_admin", "push_enabled")}
        flags["manage_students"] = body.get("manage_students", True)
        for name, value in flags.items():
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false; got {value!r}")
        token = canvas.add_token(user_id, **flags)  # raises ValueError for an unknown user
        return json_response(200, {"token": token, "user_id": user_id})
