"""``FakeCanvas``: a real HTTP server on loopback that answers the communication-channel endpoints as Canvas.

It exists so DAGs and clients can be tested against Canvas's awkward parts (200 on POST and DELETE, soft
delete to ``retired``, 404 on a repeated delete, ``Link`` pagination, the 403 throttle) without a Canvas.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from types import TracebackType

from .app import CanvasApp
from .control import ControlRoutes
from .faults import Fault, FaultPlan
from .state import AccountSettings, CanvasState
from .throttle import Throttle, ThrottleSettings
from .transport import HTTPServer, Pipeline, RequestRecord


@dataclass(frozen=True, slots=True)
class Stats:
    """Counters of a running fake, from :attr:`.FakeCanvas.stats` (or ``GET /__fake__/stats``).

    :ivar requests: every request received, including those answered by faults.
    :ivar throttled: requests refused by the throttle (including ``Fault.throttle``).
    :ivar faults: requests a fault was applied to.
    :ivar in_flight: requests inside the throttle right now.
    :ivar max_in_flight: the most requests inside the throttle at once, all clients together: assert on it
        to show a DAG's concurrency stays below Canvas's throttle.
    :ivar max_in_flight_by_bucket: the same per client, keyed by :func:`.bucket_key`.
    :ivar mean_seconds_in_flight: how long an admitted request stayed inside the throttle on average
        (latency plus the fake's own work): the request duration the bucket sees, 0.0 before any.
    """

    requests: int  # every request received, including those answered by faults
    throttled: int  # refused by the throttle (including Fault.throttle)
    faults: int  # requests a fault was applied to
    in_flight: int
    max_in_flight: int  # most requests inside the throttle at once, all clients together
    max_in_flight_by_bucket: dict[str, int]  # keys as throttle.bucket_key(token, ip)
    mean_seconds_in_flight: float = 0.0  # admitted requests, since the last reset


def default_chaos_faults() -> list[Fault]:
    return [Fault.status(500), Fault.status(502), Fault.status(503), Fault.throttle(), Fault.reset()]


class FakeCanvas:
    """A started-on-demand fake Canvas; use it as a context manager or call ``start()``/``stop()``.

    ``latency`` is spent by every request while in flight, which is what makes concurrency visible to the
    throttle. ``auth_error_updates`` mirrors Canvas's feature flag (403 instead of 401 when forbidden).
    ``verbose`` logs each request to stderr.

    Seed data (``seed_demo=True``, the default), ids assigned in this order:

    * a site admin ("Site Admin", login ``admin@example.edu``) whose ``admin_token`` has push enabled on its
      developer key, with one active e-mail ``admin@example.edu``;
    * a plain user ("Plain User", login ``user@example.edu``) with ``user_token`` and one active e-mail
      ``user@example.edu``;
    * three demo students, SIS ids ``demo-student-1`` .. ``demo-student-3`` (logins
      ``demo-student-N@example.edu``, integration ids ``demo-int-N``): each has an active e-mail
      ``demo-student-N@example.edu``; student 2 also an unconfirmed SMS ``+15555550102``; student 3 also a
      retired e-mail ``old.demo-student-3@example.edu``.

    With ``seed_demo=False`` only the two users and their tokens exist, without channels.

    ``control_routes`` (on by default) serves ``/__fake__/stats``, ``/__fake__/channels`` and friends (see
    :mod:`~airflow_provider_canvas.testing.control`) so a client in another process can read the counters
    and the state; they bypass the throttle, faults and counters.

    :param host: the address to listen on; keep the loopback default unless another machine must reach it.
    :param port: the port; 0 picks a free one (read it from :attr:`port` once started).
    :param latency: seconds every request spends in flight.
    :param throttle: the throttle's parameters; default Canvas's (:class:`.ThrottleSettings`).
    :param per_page_max: the largest ``per_page`` the list endpoint honours (Canvas: 100).
    :param auth_error_updates: Canvas's ``api_auth_error_updates`` flag.
    :param seed_demo: seed the demo students and channels listed above.
    :param verbose: log each request to stderr.
    :param control_routes: serve the ``/__fake__/`` control routes.

    :ivar admin_token: the seeded site admin's access token (its developer key has push enabled).
    :ivar admin_user_id: the site admin's user id.
    :ivar user_token: the seeded plain user's access token.
    :ivar user_user_id: the plain user's id.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        throttle: ThrottleSettings | None = None,
        per_page_max: int = 100,
        auth_error_updates: bool = False,
        seed_demo: bool = True,
        verbose: bool = False,
        control_routes: bool = True,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._verbose = verbose
        self._state = CanvasState(auth_error_updates=auth_error_updates)
        self._throttle = Throttle(throttle or ThrottleSettings())
        self._faults = FaultPlan()
        self._pipeline = Pipeline(
            CanvasApp(self._state, per_page_max=per_page_max), self._throttle, self._faults
        )
        self._pipeline.latency = latency
        self._pipeline.control = ControlRoutes(self) if control_routes else None
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._prefix_counters: dict[str, int] = {}
        self._seed(seed_demo)

    # ----- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeCanvas:
        """Listen and serve in a background thread.

        :return: this fake, started.
        :raises RuntimeError: it is already started.
        """
        if self._server is not None:
            raise RuntimeError("FakeCanvas is already started")
        server = HTTPServer((self.host, self._requested_port), self._pipeline, verbose=self._verbose)
        self._server = server
        self._pipeline.port = server.server_address[1]
        self._pipeline.app.default_host = f"{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-canvas", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, wake stalled and sleeping requests, close every connection, join every thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._pipeline.stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections(timeout)
        thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> FakeCanvas:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port it listens on (the chosen one when started with ``port=0``).

        :raises RuntimeError: it is not started.
        """
        if self._server is None:
            raise RuntimeError("FakeCanvas is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://<host>:<port>``: the Canvas URL to put in a connection."""
        return f"http://{self.host}:{self.port}"

    def connection_json(self, token: str | None = None, **extra: object) -> str:
        """An Airflow connection in JSON form, for ``AIRFLOW_CONN_<ID>``.

        :param token: the access token; default ``admin_token``.
        :param extra: connection extras, e.g. ``max_retries=1``.
        :return: ``{"conn_type": "canvas", "host": <base_url>, "password": <token>, "extra": {...}}`` as text.
        """
        return json.dumps(
            {
                "conn_type": "canvas",
                "host": self.base_url,
                "password": token or self.admin_token,
                "extra": extra,
            }
        )

    # ----- runtime knobs ----------------------------------------------------------------------

    @property
    def latency(self) -> float:
        """Seconds each request spends in flight before the application answers."""
        return self._pipeline.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._pipeline.latency = seconds

    @property
    def per_page_max(self) -> int:
        """The largest ``per_page`` the list endpoint honours (Canvas: 100)."""
        return self._pipeline.app.per_page_max

    @property
    def throttle(self) -> ThrottleSettings:
        """The throttle's parameters: replace them, or change fields in place while the server runs."""
        return self._throttle.settings

    @throttle.setter
    def throttle(self, settings: ThrottleSettings) -> None:
        self._throttle.settings = settings

    @property
    def settings(self) -> AccountSettings:
        """The root account's settings the endpoints consult; change fields while the server runs."""
        return self._state.settings

    @property
    def auth_error_updates(self) -> bool:
        """Canvas's ``api_auth_error_updates`` flag: 403 instead of 401 for "authenticated but forbidden"."""
        return self._state.auth_error_updates

    @auth_error_updates.setter
    def auth_error_updates(self, enabled: bool) -> None:
        self._state.auth_error_updates = enabled

    def inject(
        self, fault: Fault, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> None:
        """Apply ``fault`` to the next ``times`` requests matching ``method`` and ``path``.

        Armed faults are consumed in the order they were armed: a request takes the first one that matches
        it. Link faults arm for ``GET .../communication_channels`` unless told otherwise.

        :param fault: what to do, built with a :class:`.Fault` classmethod.
        :param times: how many matching requests get it (at least 1).
        :param method: only requests with this HTTP method; default any.
        :param path: only requests whose raw (still percent-encoded) path this regex is found in.
        :raises ValueError: ``times`` is below 1.
        """
        self._faults.add(fault, times=times, method=method, path=path)

    def inject_random(
        self,
        rate: float = 0.01,
        faults: list[Fault] | None = None,
        *,
        seed: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Apply a random fault to each matching request with probability ``rate``, for chaos tests.

        Replaces any earlier random plan. Armed faults (:meth:`inject`) take precedence.

        :param rate: the probability, 0 to 1.
        :param faults: the faults to choose from; default ``status(500)``, ``status(502)``,
            ``status(503)``, ``throttle()`` and ``reset()``.
        :param seed: a seed for a repeatable run.
        :param method: only requests with this HTTP method.
        :param path: only requests whose raw path this regex is found in.
        :raises ValueError: ``rate`` is outside 0 to 1, or ``faults`` is empty.
        """
        self._faults.set_random(rate, faults or default_chaos_faults(), seed, method, path)

    def clear_faults(self) -> None:
        """Disarm every armed fault and the random plan."""
        self._faults.clear()

    # ----- observation ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received (the most recent ``transport.MAX_RECORDED``), in completion order."""
        return list(self._pipeline.records)

    def clear_requests(self) -> None:
        """Empty :attr:`requests`."""
        self._pipeline.records.clear()

    @property
    def stats(self) -> Stats:
        """A snapshot of the counters."""
        throttle = self._throttle
        return Stats(
            requests=self._pipeline.received,
            throttled=throttle.throttled,
            faults=self._pipeline.faults_applied,
            in_flight=throttle.in_flight,
            max_in_flight=throttle.max_in_flight,
            max_in_flight_by_bucket=throttle.max_in_flight_by_bucket(),
            mean_seconds_in_flight=throttle.mean_seconds_in_flight,
        )

    def reset_stats(self) -> None:
        """Zero the counters (bucket levels stay)."""
        self._pipeline.reset_counters()

    # ----- data -------------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        sis_user_id: str | None = None,
        login_id: str | None = None,
        integration_id: str | None = None,
    ) -> int:
        """Add a user, without HTTP.

        :param name: the display name.
        :param sis_user_id: the SIS id, so the user can be named ``sis_user_id:<id>``.
        :param login_id: the login, so the user can be named ``sis_login_id:<login>`` (case-insensitive).
        :param integration_id: so the user can be named ``sis_integration_id:<id>``.
        :return: the new user's numeric id.
        :raises ValueError: another user already has that SIS id, login or integration id.
        """
        return self._state.add_user(
            name, sis_user_id=sis_user_id, login_id=login_id, integration_id=integration_id
        ).id

    def add_users(self, n: int, *, prefix: str = "student") -> list[int]:
        """Bulk seeding: SIS id ``f"{prefix}{i:06d}"``, login ``<sis id>@example.edu``; numbering continues
        across calls with the same prefix.

        :param n: how many users.
        :param prefix: the SIS id prefix.
        :return: the new users' ids, consecutive.
        """
        with self._state.lock:
            first = self._prefix_counters.get(prefix, 0) + 1
            self._prefix_counters[prefix] = first + n - 1
            label = prefix.replace("_", " ").replace("-", " ").title()
            return [
                self._state.add_user(
                    f"{label} {i:06d}",
                    sis_user_id=f"{prefix}{i:06d}",
                    login_id=f"{prefix}{i:06d}@example.edu",
                ).id
                for i in range(first, first + n)
            ]

    def add_token(
        self,
        user_id: int,
        *,
        site_admin: bool = False,
        account_admin: bool = False,
        push_enabled: bool = False,
        manage_students: bool = True,
    ) -> str:
        """A new access token for ``user_id``.

        Admin flags are granted to the user, since Canvas roles belong to users, not tokens. ``push_enabled``
        says whether the token's developer key has SNS configured. ``manage_students=False`` gives an account
        admin a role without "manage students": it may create channels for others, but Canvas silently
        ignores its ``skip_confirmation`` (the channel comes back ``unconfirmed``)."""
        return self._new_token(
            user_id, "fake-token", site_admin, account_admin, push_enabled, manage_students
        )

    def add_channel(
        self,
        user_id: int,
        channel_type: str,
        address: str,
        *,
        workflow_state: str = "active",
        sis_imported: bool = False,
    ) -> dict[str, object]:
        """Seed a channel directly: no HTTP, no validation, no duplicate check.

        :param user_id: the user's numeric id.
        :param channel_type: ``email``, ``sms``, ``push``, ...
        :param address: the address.
        :param workflow_state: ``active`` (default), ``unconfirmed`` or ``retired``.
        :param sis_imported: marks it as an SIS login's e-mail, which
            ``settings.edit_institution_email = False`` protects from deletion.
        :return: the channel in Canvas's JSON shape.
        """
        channel = self._state.add_channel(
            user_id, channel_type, address, workflow_state=workflow_state, sis_imported=sis_imported
        )
        return self._state.channel_json(channel)

    def channels(self, user_id: int, *, include_retired: bool = False) -> list[dict[str, object]]:
        """The user's channels in Canvas's JSON shape, by position (retired ones only on request).

        :param user_id: the user's numeric id.
        :param include_retired: also the retired (deleted) channels.
        """
        with self._state.lock:
            rows = list(self._state.user(user_id).channels)
        return [self._state.channel_json(c) for c in rows if include_retired or c.workflow_state != "retired"]

    def all_channels(self, *, include_retired: bool = False) -> list[dict[str, object]]:
        """Every user's channels, user by user, as :meth:`channels`.

        :param include_retired: also the retired (deleted) channels.
        """
        with self._state.lock:
            user_ids = list(self._state.users)
        return [c for user_id in user_ids for c in self.channels(user_id, include_retired=include_retired)]

    def users(self, *, include_retired: bool = False) -> list[dict[str, object]]:
        """Every user, by id, with the identifiers a DAG names them by and their channels.

        :param include_retired: also the retired (deleted) channels.
        :return: ``{"id", "name", "sis_user_id", "login_id", "integration_id", "channels": [...]}`` per user,
            the channels as :meth:`channels` gives them.
        """
        with self._state.lock:
            users = list(self._state.users.values())
        return [
            {
                "id": user.id,
                "name": user.name,
                "sis_user_id": user.sis_user_id,
                "login_id": user.login_id,
                "integration_id": user.integration_id,
                "channels": self.channels(user.id, include_retired=include_retired),
            }
            for user in users
        ]

    def push_endpoints(self, user_id: int) -> list[dict[str, object]]:
        """The user's registered push devices: ``id``, ``token``, ``access_token_id``, ``workflow_state``
        (``active`` or ``deleted``).

        :param user_id: the user's numeric id.
        """
        return [
            {
                "id": e.id,
                "token": e.token,
                "access_token_id": e.access_token_id,
                "workflow_state": e.workflow_state,
            }
            for e in self._state.push_endpoints(user_id)
        ]

    def confirm(self, channel_id: int) -> dict[str, object]:
        """Act as the user clicking the confirmation link: an unconfirmed channel becomes active.

        :param channel_id: the channel's id.
        :return: the channel, now ``active``.
        :raises KeyError: no unconfirmed channel has that id.
        """
        with self._state.lock:
            for user in self._state.users.values():
                for channel in user.channels:
                    if channel.id == channel_id and channel.workflow_state == "unconfirmed":
                        channel.workflow_state = "active"
                        return self._state.channel_json(channel)
        raise KeyError(f"no unconfirmed channel with id {channel_id}")

    # ----- internals --------------------------------------------------------------------------

    def _new_token(
        self,
        user_id: int,
        prefix: str,
        site_admin: bool,
        account_admin: bool,
        push: bool,
        manage_students: bool = True,
    ) -> str:
        token = f"{prefix}-{user_id}-{secrets.token_hex(12)}"
        self._state.add_token(
            user_id,
            token,
            site_admin=site_admin,
            account_admin=account_admin,
            push_enabled=push,
            manage_students=manage_students,
        )
        return token

    def _seed(self, demo: bool) -> None:
        state = self._state
        admin = state.add_user("Site Admin", login_id="admin@example.edu")
        user = state.add_user("Plain User", login_id="user@example.edu")
        self.admin_user_id: int = admin.id
        self.user_user_id: int = user.id
        self.admin_token: str = self._new_token(admin.id, "fake-admin-token", True, False, True)
        self.user_token: str = self._new_token(user.id, "fake-user-token", False, False, False)
        if not demo:
            return
        state.add_channel(admin.id, "email", "admin@example.edu")
        state.add_channel(user.id, "email", "user@example.edu")
        for n in (1, 2, 3):
            sis = f"demo-student-{n}"
            student = state.add_user(
                f"Demo Student {n}",
                sis_user_id=sis,
                login_id=f"{sis}@example.edu",
                integration_id=f"demo-int-{n}",
            )
            state.add_channel(student.id, "email", f"{sis}@example.edu")
            if n == 2:
                state.add_channel(student.id, "sms", "+15555550102", workflow_state="unconfirmed")
            if n == 3:
                state.add_channel(student.id, "email", f"old.{sis}@example.edu", workflow_state="retired")
