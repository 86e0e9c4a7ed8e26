"""The one place that talks HTTP to Canvas: connection, auth, retries, throttling, pagination, errors.

Operators, sensors and bulk helpers only call the methods below; Canvas's wire rules (links, URLs,
error shapes, retry policy) come from ``airflow_provider_canvas.wire``, shared with the async trigger.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from tenacity import RetryCallState, Retrying

from airflow_provider_canvas import __version__
from airflow_provider_canvas._compat import BaseHook, mask_secret
from airflow_provider_canvas.exceptions import (
    CanvasAuthenticationError,
    CanvasConnectionError,
    CanvasDuplicateChannelError,
    CanvasError,
    CanvasInputError,
    CanvasNotFoundError,
)
from airflow_provider_canvas.hooks._bulk import ChannelChange, Progress, bulk_map, known_length
from airflow_provider_canvas.hooks._connection import settings_from_connection
from airflow_provider_canvas.hooks._deadline import DeadlineAdapter, attempt_deadline
from airflow_provider_canvas.hooks._governor import Governor, governor_for
from airflow_provider_canvas.hooks._requests import (
    BearerAuth,
    Outcome,
    header_float,
    is_ambiguous,
    is_transient,
    read_body,
    resolve_verify,
)
from airflow_provider_canvas.wire.backoff import (
    FAILURE_SIGNALS,
    RetryPolicy,
    TransientBodyError,
    check_final_answer,
    failure_error,
    gave_up_early,
    retry_reason,
    tenacity_kwargs,
)
from airflow_provider_canvas.wire.channels import (
    find_channel,
    validate_address,
    validate_channel_type,
    validate_push_token,
)
from airflow_provider_canvas.wire.config import (
    DEFAULT_CONN_ID,
    MAX_CONCURRENCY_LIMIT,
    CanvasConnectionSettings,
)
from airflow_provider_canvas.wire.errors import (
    find_ssl_error,
    is_throttle,
    no_answer_error,
    tls_error,
)
from airflow_provider_canvas.wire.limits import (
    ACCEPT_ENCODING,
    DeadlineExceeded,
    ResponseTooLarge,
    UnsupportedEncoding,
    deadline_error,
    parse_json,
)
from airflow_provider_canvas.wire.links import Pagination, requested_per_page
from airflow_provider_canvas.wire.secrets import Redactor, redact_error
from airflow_provider_canvas.wire.urls import (
    api_path,
    channel_id_segment,
    encode_segment,
    endpoint_url,
    redact_path,
    user_id_segment,
)

__all__ = ["CanvasHook", "ChannelChange", "RateLimitStatus"]

T = TypeVar("T")
R = TypeVar("R")

CHANNELS = "communication_channels"
# How a failed attempt is named in its log line.
_FAILURES: dict[type[Exception], str] = {
    DeadlineExceeded: "timeout",
    ResponseTooLarge: "answer too large",
    UnsupportedEncoding: "unsupported Content-Encoding",
}
_ATTEMPT_FAILURES: tuple[type[Exception], ...] = (requests.RequestException, *_FAILURES)
QUIET = logging.DEBUG  # per-request log level inside bulk calls, which log progress lines instead


@dataclass
class RateLimitStatus:
    """The latest throttle headers: ``X-Rate-Limit-Remaining`` (bucket room) and ``X-Request-Cost``.

    Read it from ``CanvasHook.rate_limit`` to see how close a DAG runs to Canvas's throttle.

    :ivar remaining: the last ``X-Rate-Limit-Remaining`` Canvas sent (None before the first answer).
    :ivar cost: the last ``X-Request-Cost`` Canvas sent.
    :ivar throttled: how many answers were throttled (403 ``Rate Limit Exceeded`` or 429) so far.
    :ivar updated_at: ``time.monotonic()`` of the last ``remaining`` value.
    """

    remaining: float | None = None
    cost: float | None = None
    throttled: int = 0
    updated_at: float | None = field(default=None, repr=False)


class CanvasHook(BaseHook):
    """Talk to the Canvas LMS REST API through a ``canvas`` connection.

    Every request gets the connection's timeout, retries with backoff for network errors, 5xx and
    throttling (honouring ``Retry-After``), Link-header pagination and Canvas's error shapes turned into
    :class:`~airflow_provider_canvas.exceptions.CanvasError` subclasses carrying Canvas's own message. The
    connection is read and checked on first use, before any request is sent. One hook may be shared by
    threads; its session keeps connections alive.

    A ``user_id`` is a numeric id (int or string), ``"self"`` (the token's user) or a prefixed id such as
    ``"sis_user_id:S123"`` or ``"sis_login_id:jane.doe"``; a malformed one raises ``ValueError`` before
    any request.

    :param canvas_conn_id: the Airflow connection holding the Canvas URL (host) and access token (password).
    :param kwargs: passed on to Airflow's ``BaseHook``.

    :ivar rate_limit: the latest throttle headers, see :class:`RateLimitStatus`.
    :ivar retry_base_delay: first backoff window in seconds (class attribute, default 1.0).
    :ivar progress_interval: seconds between the bulk calls' progress lines (class attribute, default 10).
    """

    conn_name_attr = "canvas_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "canvas"
    hook_name = "Canvas LMS"
    # First backoff window in seconds; Canvas's bucket drains 10 units/s, so ~1 s clears a throttle.
    # Tests against the fake Canvas lower it to stay fast.
    retry_base_delay: float = 1.0
    # Seconds between progress lines of the bulk calls.
    progress_interval: float = 10.0

    def __init__(self, canvas_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.canvas_conn_id = canvas_conn_id
        self._settings: CanvasConnectionSettings | None = None
        self._session: requests.Session | None = None
        self._governor: Governor | None = None
        self._verify: bool | str = True
        self._redact: Redactor | None = None
        self._lock = threading.Lock()
        self._bulk_worker = threading.local()  # set in bulk_map's worker threads: per-request lines go DEBUG
        self.rate_limit = RateLimitStatus()

    # -- connection ---------------------------------------------------------------------------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Airflow 3.0-3.1 read the form's hidden fields and labels here; 3.2+ read the provider info.

        Both come from the one declaration in ``get_provider_info()``.

        :return: ``hidden_fields``, ``relabeling`` and ``placeholders`` for the connection form.
        """
        from airflow_provider_canvas import get_provider_info

        (connection,) = get_provider_info()["connection-types"]
        behaviour = connection["ui-field-behaviour"]
        return {
            "hidden_fields": behaviour["hidden-fields"],
            "relabeling": behaviour["relabeling"],
            "placeholders": behaviour["placeholders"],
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Airflow 3.0-3.1 read the form's extra fields here; 3.2+ read ``conn-fields`` in the provider info.

        Built from that one declaration (see ``hooks/_legacy_form.py`` for what the older forms cannot show).

        :return: an unbound WTForms field per extra, keyed by the extra's name.
        """
        from airflow_provider_canvas import get_provider_info
        from airflow_provider_canvas.hooks._legacy_form import form_widgets

        (connection,) = get_provider_info()["connection-types"]
        return form_widgets(connection["conn-fields"])

    @property
    def settings(self) -> CanvasConnectionSettings:
        """The parsed connection, read once: a bad connection fails here, before any request is sent.

        :raises ~airflow_provider_canvas.exceptions.CanvasConfigurationError: the connection is unusable
            (no host or token, a host that could leak the token, an extra out of range); the message names
            the field.
        """
        if self._settings is None:
            self._settings = settings_from_connection(
                self.get_connection(self.canvas_conn_id), self.canvas_conn_id, self.log
            )
        return self._settings

    @property
    def base_url(self) -> str:
        """The connection's Canvas URL, normalised (``https://canvas.example.edu``, no ``/api/v1``)."""
        return self.settings.base_url

    @property
    def redact(self) -> Redactor:
        """Scrubs the secrets this hook holds (the token, push tokens it sent) from server-sent text."""
        if self._redact is None:
            self._redact = Redactor([self.settings.token])
        return self._redact

    @contextmanager
    def _clean_errors(self) -> Iterator[None]:
        """Every Canvas error leaving the transport is scrubbed of secrets and cut from its context."""
        try:
            yield
        except CanvasError as error:
            redact_error(error, self.redact)
            raise

    @property
    def governor(self) -> Governor:
        """The concurrency governor shared by every hook in this process using this Canvas and token."""
        if self._governor is None:
            settings = self.settings
            self._governor = governor_for(settings.base_url, settings.token, settings.max_concurrency)
        return self._governor

    def get_conn(self) -> requests.Session:
        """The configured session, created once and reused so connections are kept alive.

        Prefer :meth:`request` and :meth:`paginate`: they add the retries, throttling and error mapping a
        bare session lacks.

        :return: a ``requests.Session`` with the bearer token, TLS settings and proxies of the connection.
        """
        with self._lock:
            if self._session is None:
                settings = self.settings
                session = requests.Session()
                session.auth = BearerAuth(settings.token)
                # requests reads proxies, CA bundle and netrc from the environment on every request (about
                # half a millisecond each time); every request here goes to one origin, so read them once.
                session.trust_env = False
                session.proxies = requests.utils.get_environ_proxies(settings.base_url)
                session.verify = self._verify = resolve_verify(settings.verify)
                session.headers.update(
                    {
                        "Accept": "application/json",
                        "Accept-Encoding": ACCEPT_ENCODING,
                        "User-Agent": f"airflow-provider-canvas/{__version__} "
                        f"python-requests/{requests.__version__}",
                    }
                )
                # Retries are ours (tenacity); the pool is sized for the bulk helpers' concurrency; the
                # adapter lets each attempt's deadline reach the sockets it uses.
                adapter = DeadlineAdapter(
                    pool_connections=2, pool_maxsize=MAX_CONCURRENCY_LIMIT, max_retries=0
                )
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                self._session = session
            return self._session

    def close(self) -> None:
        """Close the session and its kept-alive connections; a later call opens a new one."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    # -- transport ----------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        json: Any = None,
    ) -> requests.Response:
        """One request to any Canvas endpoint, with the hook's retries, throttling and error mapping.

        For Canvas APIs this provider has no method for. Redirects are never followed (they would carry
        the token elsewhere).

        :param method: the HTTP method, e.g. ``"GET"``.
        :param endpoint: the path after ``/api/v1/``, e.g. ``"users/self/profile"``; path segments taken
            from data must already be percent-encoded.
        :param params: query string parameters.
        :param data: a form body (Canvas's usual request format).
        :param json: a JSON body.
        :return: the 2xx ``requests.Response``.
        :raises ~airflow_provider_canvas.exceptions.CanvasError: a non-2xx answer after the retries, as
            the subclass that matches it (for example ``CanvasNotFoundError`` for 404).
        """
        url = endpoint_url(self.base_url, endpoint)
        return self._send(method.upper(), url, params=params, data=data, json=json).response

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        json: Any = None,
        expect_json: bool = False,
        max_retries: int | None = None,
        log_level: int | None = None,
    ) -> Outcome:
        with self._clean_errors():
            return self._attempts(method, url, params, data, json, expect_json, max_retries, log_level)

    def _attempts(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        data: Any,
        json: Any,
        expect_json: bool,
        max_retries: int | None,
        log_level: int | None,
    ) -> Outcome:
        if log_level is None:
            log_level = QUIET if getattr(self._bulk_worker, "active", False) else logging.INFO
        session = self.get_conn()
        settings = self.settings
        governor = self.governor
        timeout = (settings.timeout, settings.timeout)
        log_path = self.redact(redact_path(urlsplit(url).path))
        attempts = 0
        ambiguous: list[bool] = []

        def attempt() -> Outcome:
            nonlocal attempts
            attempts += 1
            started = time.monotonic()
            try:
                with governor.slot(), attempt_deadline(settings.timeout) as deadline:
                    try:
                        response = session.request(
                            method,
                            url,
                            params=params,
                            data=data,
                            json=json,
                            timeout=timeout,
                            allow_redirects=False,
                            verify=self._verify,
                            stream=True,
                        )
                        with response:
                            outcome = Outcome(response, read_body(response, settings.max_response_bytes))
                    except requests.RequestException:
                        if deadline.expired:
                            raise DeadlineExceeded() from None
                        raise
                    if deadline.expired:  # the watchdog cut the body short: it may look complete
                        raise DeadlineExceeded()
                    # Inside the slot: a request another thread starts in the freed slot must not be counted
                    # as in the bucket already (it would make the room look one request larger).
                    self._note_rate_limit(outcome)
            except _ATTEMPT_FAILURES as exc:
                self.log.log(
                    log_level,
                    "Canvas %s %s -> %s after %.3fs",
                    method,
                    log_path,
                    _FAILURES.get(type(exc), type(exc).__name__),
                    time.monotonic() - started,
                )
                ambiguous.append(is_ambiguous(exc, None))
                raise
            self.log.log(
                log_level,
                "Canvas %s %s -> %s in %.3fs",
                method,
                log_path,
                outcome.status_code,
                time.monotonic() - started,
            )
            if 200 <= outcome.status_code < 300:
                if expect_json:
                    try:
                        outcome.data = parse_json(outcome.body)
                    except ValueError:
                        ambiguous.append(True)
                        raise TransientBodyError("response body is not valid JSON") from None
            elif outcome.status_code >= 500 or is_throttle(outcome.status_code, outcome.text):
                ambiguous.append(is_ambiguous(None, outcome))
            return outcome

        def before_sleep(state: RetryCallState) -> None:
            assert state.next_action is not None
            reason = retry_reason(state)
            self.log.warning(
                "Canvas %s %s: %s; retry %d of %d in %.1fs.",
                method,
                log_path,
                reason,
                state.attempt_number,
                policy.max_retries,
                state.next_action.sleep,
            )

        policy = RetryPolicy(
            max_retries=settings.max_retries if max_retries is None else max_retries,
            base_delay=self.retry_base_delay,
            max_total_wait=settings.max_retry_wait,
        )
        kwargs = tenacity_kwargs(policy, is_transient=is_transient, before_sleep=before_sleep)
        try:
            outcome: Outcome = Retrying(**kwargs)(attempt)
        except requests.RequestException as exc:
            failure: CanvasError = self._network_error(exc, method, url, attempts)
            if is_transient(exc):
                failure.add_detail(gave_up_early(policy, attempts))
            raise failure from None
        except FAILURE_SIGNALS as signal:
            raise failure_error(
                signal, policy, method=method, url=url, attempts=attempts, timeout=settings.timeout
            ) from None
        check_final_answer(
            outcome,
            policy,
            method=method,
            url=url,
            attempts=attempts,
            ambiguous_retry=any(ambiguous),
            redact=self.redact,
        )
        return outcome

    def _note_rate_limit(self, outcome: Outcome) -> None:
        remaining = header_float(outcome.response, "X-Rate-Limit-Remaining")
        cost = header_float(outcome.response, "X-Request-Cost")
        throttled = is_throttle(outcome.status_code, outcome.text)
        self.governor.observe(remaining=remaining, throttled=throttled)
        status = self.rate_limit
        with self._lock:
            if remaining is not None:
                status.remaining = remaining
                status.updated_at = time.monotonic()
            if cost is not None:
                status.cost = cost
            status.throttled += throttled
        if remaining is not None or cost is not None:
            self.log.debug("Canvas rate limit: remaining=%s cost=%s", remaining, cost)

    def _network_error(
        self, exc: requests.RequestException, method: str, url: str, attempts: int
    ) -> CanvasConnectionError:
        if isinstance(exc, requests.exceptions.SSLError):
            return tls_error(method, url, attempts, find_ssl_error(exc))
        if isinstance(exc, requests.exceptions.Timeout):
            return deadline_error(method, url, timeout=self.settings.timeout, attempts=attempts)
        return no_answer_error(method, url, attempts=attempts, failure=type(exc).__name__)

    # -- pagination ---------------------------------------------------------------------------------------

    def paginate(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Every item of a paginated list, fetched lazily page by page by following ``rel="next"``.

        ``next`` links to another scheme, host or port, and links that loop, are refused.

        :param endpoint: the list's path after ``/api/v1/``, e.g. ``"users/self/communication_channels"``.
        :param params: query string parameters for the first page; ``per_page`` defaults to the connection's
            page size.
        :return: an iterator over the items of every page, in Canvas's order.
        :raises ~airflow_provider_canvas.exceptions.CanvasError: a page failed after its retries, or the
            pagination links cannot be followed safely (``CanvasResponseError``).
        """
        url = endpoint_url(self.base_url, endpoint)
        query = dict(params or {})
        query.setdefault("per_page", self.settings.per_page)
        return self._iter_pages(url, query)

    def _iter_pages(self, url: str, params: dict[str, Any] | None) -> Iterator[dict]:
        settings = self.settings
        pages = Pagination(
            url, base_url=settings.base_url, per_page=requested_per_page(params), max_pages=settings.max_pages
        )
        while pages.next_url:
            outcome = self._send("GET", pages.next_url, params=params, expect_json=True)
            with self._clean_errors():
                page = pages.accept(outcome.response.url, outcome.data)
            yield from page
            with self._clean_errors():
                pages.advance(outcome.response.url, outcome.headers, page)
            params = None

    # -- communication channels ---------------------------------------------------------------------------

    def _channels_url(self, user_id: object, *segments: str) -> str:
        return self.base_url + api_path("users", user_id_segment(user_id), CHANNELS, *segments)

    def iter_communication_channels(self, user_id: object) -> Iterator[dict]:
        """The user's unretired channels in Canvas's order (by position), fetched lazily.

        :param user_id: the user: a numeric id, ``"self"`` or a prefixed id such as ``"sis_user_id:S1"``.
        :return: an iterator over Canvas's channel objects (``id``, ``address``, ``type``, ``position``,
            ``user_id``, ``workflow_state`` ``unconfirmed`` or ``active``, ``created_at``), following the
            pagination to the end. Canvas never lists retired channels.
        :raises ValueError: ``user_id`` is malformed (before any request).
        :raises ~airflow_provider_canvas.exceptions.CanvasNotFoundError: no such user.
        :raises ~airflow_provider_canvas.exceptions.CanvasError: any other failure after the retries.

        :Canvas API: `List user communication channels <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.index>`__
            (``GET /api/v1/users/:user_id/communication_channels``)
        """
        url = self._channels_url(user_id)
        return self._iter_pages(url, {"per_page": self.settings.per_page})

    def list_communication_channels(self, user_id: object) -> list[dict]:
        """The user's unretired channels as a list: :meth:`iter_communication_channels`, read to the end.

        :param user_id: the user: a numeric id, ``"self"`` or a prefixed id such as ``"sis_user_id:S1"``.
        :return: Canvas's channel objects in Canvas's order (by position).
        :raises ValueError: ``user_id`` is malformed (before any request).
        :raises ~airflow_provider_canvas.exceptions.CanvasError: as :meth:`iter_communication_channels`.

        :Canvas API: `List user communication channels <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.index>`__
            (``GET /api/v1/users/:user_id/communication_channels``)
        """
        return list(self.iter_communication_channels(user_id))

    def create_communication_channel(
        self,
        user_id: object,
        *,
        channel_type: str,
        address: str | None = None,
        token: str | None = None,
        skip_confirmation: bool = False,
    ) -> dict:
        """Create a communication channel for a user.

        If a retried attempt meets "already exists", the earlier attempt may have created it, so the
        existing channel is looked up and returned instead of reporting a duplicate. Creating an address
        the user had and which was retired restores that channel (same id); creating a push channel for a
        user who has one registers the device token with it.

        :param user_id: the user: a numeric id, ``"self"`` or a prefixed id such as ``"sis_user_id:S1"``.
        :param channel_type: ``"email"``, ``"sms"`` or ``"push"``.
        :param address: the e-mail address or SMS number (checked locally); not used for push.
        :param token: the device's push registration token, for ``push`` only; masked in Airflow's logs.
        :param skip_confirmation: make the channel active at once, without a confirmation message. Only
            site and account admins may; Canvas silently ignores it for other users.
        :return: Canvas's channel object; its ``workflow_state`` is ``unconfirmed`` (a confirmation was
            sent) or ``active``.
        :raises ValueError: a bad ``user_id``, ``channel_type``, ``address`` or ``token`` (before any
            request).
        :raises ~airflow_provider_canvas.exceptions.CanvasDuplicateChannelError: the user already has an
            unconfirmed or active channel with this type and address.
        :raises ~airflow_provider_canvas.exceptions.CanvasError: any other failure after the retries.

        :Canvas API: `Create a communication channel <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.create>`__
            (``POST /api/v1/users/:user_id/communication_channels``)
        """
        return self._create_channel(user_id, channel_type, address, token, skip_confirmation)

    def _create_channel(
        self,
        user_id: object,
        channel_type: str,
        address: str | None,
        token: str | None,
        skip_confirmation: bool,
    ) -> dict:
        channel_type = validate_channel_type(channel_type)
        if not isinstance(skip_confirmation, bool):
            raise ValueError(f"skip_confirmation must be True or False; got {skip_confirmation!r}.")
        form: dict[str, str] = {"communication_channel[type]": channel_type}
        if channel_type == "push":
            form["communication_channel[token]"] = validate_push_token(token)
            mask_secret(form["communication_channel[token]"])
            self.redact.add(form["communication_channel[token]"])
        else:
            if token is not None:
                raise ValueError(
                    "token is only valid for push channels; remove it or set channel_type='push'."
                )
            address = validate_address(channel_type, address)
            form["communication_channel[address]"] = address
        if skip_confirmation:
            form["skip_confirmation"] = "true"
        url = self._channels_url(user_id)
        try:
            return self._send("POST", url, data=form, expect_json=True).data
        except CanvasDuplicateChannelError as error:
            if not error.ambiguous_retry or address is None:
                raise
            channels = list(
                self._iter_pages(self._channels_url(user_id), {"per_page": self.settings.per_page})
            )
            existing = find_channel(channels, channel_type, address)
            if existing is None:
                raise
            self.log.info("Create was retried after an ambiguous failure; returning the channel it created.")
            return dict(existing)

    def delete_communication_channel(
        self,
        user_id: object,
        channel_id: int | str | None = None,
        *,
        channel_type: str | None = None,
        address: str | None = None,
    ) -> dict:
        """Delete (retire) a channel, named by ``channel_id`` or by ``channel_type`` and ``address``.

        Canvas's delete is a soft delete: the channel stays, ``retired``, and is no longer listed.

        :param user_id: the user: a numeric id, ``"self"`` or a prefixed id such as ``"sis_user_id:S1"``.
        :param channel_id: the channel's id; or give ``channel_type`` and ``address`` instead.
        :param channel_type: ``"email"`` or ``"sms"`` (push channels can only be deleted by id).
        :param address: the channel's address, matched case-insensitively by Canvas.
        :return: Canvas's channel object, ``workflow_state`` ``retired``.
        :raises ValueError: neither or both ways of naming the channel, or a malformed value (before any
            request).
        :raises ~airflow_provider_canvas.exceptions.CanvasNotFoundError: no such channel, already retired,
            another user's, or no such user; if an earlier attempt of this delete failed ambiguously, the
            message says that it may have retired the channel.
        :raises ~airflow_provider_canvas.exceptions.CanvasError: any other failure after the retries.

        :Canvas API: `Delete a communication channel <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.destroy>`__
            (``DELETE /api/v1/users/:user_id/communication_channels/:id`` or
            ``.../communication_channels/:type/:address``)
        """
        return self._delete_channel(user_id, channel_id, channel_type, address)

    def _delete_channel(
        self,
        user_id: object,
        channel_id: int | str | None,
        channel_type: str | None,
        address: str | None,
    ) -> dict:
        if channel_id is not None and (channel_type is not None or address is not None):
            raise ValueError("Give either channel_id or channel_type + address, not both.")
        if channel_id is not None:
            url = self._channels_url(user_id, channel_id_segment(channel_id))
        elif channel_type is not None and address is not None:
            kind = validate_channel_type(channel_type)
            if kind == "push":
                raise ValueError(
                    "Push channels cannot be deleted by address; use channel_id or delete_push_token."
                )
            # Canvas's :address route takes the whole rest of the segment, so no ".json" is ever added.
            url = self._channels_url(
                user_id, kind, encode_segment(validate_address(kind, address), field="address")
            )
        else:
            raise ValueError(
                "Give channel_id, or both channel_type and address, to say which channel to delete."
            )
        try:
            return self._send("DELETE", url, expect_json=True).data
        except CanvasNotFoundError as error:
            if error.ambiguous_retry:  # our sentence, not Canvas's: it goes into the summary
                error.add_detail(
                    "An earlier attempt of this delete failed ambiguously and may have retired the channel."
                )
            raise

    def delete_push_token(self, push_token: str) -> dict:
        """Remove a device's push endpoint for the token's own user (the push channel itself stays).

        Canvas's endpoint acts on the user the access token belongs to (``users/self``), so there is no
        ``user_id``. The token travels in the form body, never in the URL.

        :param push_token: the device's push registration token; masked in Airflow's logs.
        :return: ``{"success": true}``, which Canvas answers even when no endpoint had that token.
        :raises ValueError: an empty or malformed ``push_token`` (before any request).
        :raises ~airflow_provider_canvas.exceptions.CanvasNotFoundError: the user has no push channel.
        :raises ~airflow_provider_canvas.exceptions.CanvasError: any other failure after the retries.

        :Canvas API: `Delete a push notification endpoint <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.delete_push_token>`__
            (``DELETE /api/v1/users/self/communication_channels/push``)
        """
        push_token = validate_push_token(push_token, field="push_token")
        mask_secret(push_token)
        self.redact.add(push_token)
        url = self.base_url + api_path("users", "self", CHANNELS, "push")
        # The push token goes in the form body, never the query string, so it stays out of access logs.
        return self._send("DELETE", url, data={"push_token": push_token}, expect_json=True).data

    # -- bulk ---------------------------------------------------------------------------------------------

    def iter_communication_channels_for_users(
        self, user_ids: Iterable[object], *, max_concurrency: int | None = None
    ) -> Iterator[tuple[object, list[dict] | CanvasError]]:
        """Every user's channels, fetched concurrently under the shared throttle governor.

        One user's failure (a 404, throttling that outlived the retries, a malformed id) does not stop the
        others. ``user_ids`` is consumed lazily, so a generator over 60,000 ids is fine. Per-request log
        lines are DEBUG here; a progress line is logged at INFO every ``progress_interval`` seconds.

        :param user_ids: the users, in any form :meth:`iter_communication_channels` accepts.
        :param max_concurrency: the most requests in flight, 1 to 64; default the connection's
            ``max_concurrency``. Below it the governor adapts to Canvas's ``X-Rate-Limit-Remaining``.
        :return: an iterator of ``(user_id, channels)`` or ``(user_id, error)`` pairs in completion order,
            where ``error`` is a :class:`~airflow_provider_canvas.exceptions.CanvasError` (a malformed id
            is a ``CanvasInputError``).
        :raises ValueError: ``max_concurrency`` is out of range.

        :Canvas API: once per user and page,
            `List user communication channels
            <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.index>`__
        """
        per_page = self.settings.per_page

        def fetch(user_id: object) -> list[dict] | CanvasError:
            try:
                url = self._channels_url(user_id)
            except ValueError as error:
                return CanvasInputError(str(error))
            try:
                return list(self._iter_pages(url, {"per_page": per_page}))
            except CanvasError as error:
                return error

        return self.bulk_map(fetch, user_ids, max_concurrency=max_concurrency, label="list channels")

    def apply_communication_channel_changes(
        self,
        changes: Iterable[ChannelChange],
        *,
        skip_confirmation: bool = False,
        max_concurrency: int | None = None,
    ) -> Iterator[tuple[ChannelChange, dict | CanvasError]]:
        """Create and delete channels concurrently under the shared governor; errors come back as values.

        Creates keep the hook's retry-safety (a retried create returns its own channel); deletes go by
        channel id when known, else by type and address.

        :param changes: the writes to make, consumed lazily.
        :param skip_confirmation: for creates, as in :meth:`create_communication_channel`.
        :param max_concurrency: the most requests in flight, 1 to 64; default the connection's
            ``max_concurrency``.
        :return: an iterator of ``(change, channel)`` or ``(change, error)`` pairs in completion order;
            ``channel`` is Canvas's answer (created, or retired), ``error`` a
            :class:`~airflow_provider_canvas.exceptions.CanvasError` (a value refused locally is a
            ``CanvasInputError``).
        :raises ValueError: ``max_concurrency`` is out of range.

        :Canvas API: `Create a communication channel
            <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.create>`__
            and `Delete a communication channel
            <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.destroy>`__
        """

        def apply(change: ChannelChange) -> dict | CanvasError:
            try:
                if change.action == "create":
                    return self._create_channel(
                        change.user_id, change.channel_type, change.address, None, skip_confirmation
                    )
                if change.channel_id is not None:
                    return self._delete_channel(change.user_id, change.channel_id, None, None)
                return self._delete_channel(change.user_id, None, change.channel_type, change.address)
            except CanvasError as error:
                return error
            except ValueError as error:
                return CanvasInputError(str(error))

        return self.bulk_map(apply, changes, max_concurrency=max_concurrency, label="apply changes")

    def bulk_map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        max_concurrency: int | None = None,
        label: str = "items",
    ) -> Iterator[tuple[T, R]]:
        """Run ``fn`` over ``items`` concurrently under the shared governor; yields ``(item, result)``.

        For work of your own built from this hook's calls (the contact sync runs each user's writes as one
        item). ``fn`` must return errors as values, not raise. Items are consumed lazily and results come in
        completion order; per-request log lines inside ``fn`` are DEBUG, with a progress line at INFO every
        ``progress_interval`` seconds.
        """
        workers = self.settings.max_concurrency if max_concurrency is None else max_concurrency
        if (
            isinstance(workers, bool)
            or not isinstance(workers, int)
            or not 1 <= workers <= MAX_CONCURRENCY_LIMIT
        ):
            raise ValueError(
                f"max_concurrency must be a whole number from 1 to {MAX_CONCURRENCY_LIMIT}; got {workers!r}."
            )
        governor = self.governor
        governor.set_max(workers)
        progress = Progress(
            label,
            known_length(items),
            self.log,
            interval=self.progress_interval,
            throttled=lambda: governor.throttled,
            requests=lambda: governor.requests,
            concurrency=lambda: governor.limit,
        )

        def quietly(item: T) -> R:
            self._bulk_worker.active = True
            try:
                return fn(item)
            finally:
                self._bulk_worker.active = False

        return bulk_map(quietly, items, workers=workers, progress=progress)

    @property
    def requests_sent(self) -> int:
        """Requests sent so far with this connection's token from this process (every attempt counts)."""
        return self.governor.requests

    # -- UI -----------------------------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Cheap, read-only check behind the UI's Test button: who does this token belong to?

        Retries once at most, so the button answers quickly.

        :return: ``(True, "Connected to <url> as <name> (user id <id>).")``, or ``(False, reason)`` with
            Canvas's own message; never raises for a Canvas or connection problem.

        :Canvas API: `Show user details <https://canvas.instructure.com/doc/api/users.html#method.users.api_show>`__
            (``GET /api/v1/users/self``)
        """
        try:
            outcome = self._send(
                "GET", self.base_url + api_path("users", "self"), expect_json=True, max_retries=1
            )
        except CanvasAuthenticationError as error:
            said = "; ".join(m.rstrip(".") for m in error.messages) or "401"
            return (
                False,
                f"Canvas rejected the access token ({said}). Create a new token and paste it again.",
            )
        except (CanvasError, ValueError) as error:
            return False, str(error)
        user = outcome.data if isinstance(outcome.data, Mapping) else {}
        who = str(user.get("name") or user.get("short_name") or "unknown user")[:200]
        user_id = str(user.get("id"))[:40]
        # The name and id are the server's text too: scrubbed like every error message.
        return (True, self.redact(f"Connected to {self.base_url} as {who} (user id {user_id})."))
