"""Async reads from Canvas for triggers, with the same wire rules as :class:`.CanvasHook`.

Only the transport differs (httpx instead of requests, so the triggerer's event loop never blocks);
URL building, error mapping, retry policy and pagination rules are the shared pure functions.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator
from contextvars import ContextVar
from functools import cached_property
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState

from airflow_provider_canvas import __version__
from airflow_provider_canvas._compat import BaseHook
from airflow_provider_canvas.exceptions import CanvasError
from airflow_provider_canvas.hooks._connection import settings_from_connection
from airflow_provider_canvas.hooks.canvas import CHANNELS, CanvasHook
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
from airflow_provider_canvas.wire.config import DEFAULT_CONN_ID, CanvasConnectionSettings
from airflow_provider_canvas.wire.errors import find_ssl_error, no_answer_error, tls_error
from airflow_provider_canvas.wire.limits import (
    ACCEPT_ENCODING,
    ERROR_BODY_LIMIT,
    BodyReader,
    DeadlineExceeded,
    deadline_error,
    decode_text,
    parse_json,
)
from airflow_provider_canvas.wire.links import Pagination
from airflow_provider_canvas.wire.secrets import Redactor, redact_error
from airflow_provider_canvas.wire.urls import api_path, redact_path, user_id_segment

__all__ = ["CanvasAsyncHook"]


# httpx logs every request's full URL at INFO (Airflow 3.0 shows it), which can carry an SIS login id
# (often an e-mail address). Our own INFO line is already redacted, so httpx's line is dropped for
# requests this hook makes, and only for those.
_OWN_REQUEST: ContextVar[bool] = ContextVar("canvas_async_request", default=False)


class _DropOwnRequestLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _OWN_REQUEST.get()


logging.getLogger("httpx").addFilter(_DropOwnRequestLines())


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.ConnectError) and find_ssl_error(exc) is not None:
        return False
    return isinstance(exc, httpx.TransportError)


class _Answer:
    """One attempt's answer with its body read (bounded); looks like a response to the retry policy."""

    def __init__(self, response: httpx.Response, body: bytes) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.url = str(response.url)
        self.body = body
        self._charset = response.charset_encoding

    @cached_property
    def text(self) -> str:
        return decode_text(self.body, self._charset)


async def _read(response: httpx.Response, limit: int) -> bytes:
    """The body through the shared :class:`BodyReader`: raw bytes in, decoded size counted as it grows."""
    ok = 200 <= response.status_code < 300
    reader = BodyReader(
        response.headers.get("content-encoding"),
        limit if ok else min(limit, ERROR_BODY_LIMIT),
        truncate=not ok,
    )
    async for chunk in response.aiter_raw():
        reader.feed(chunk)
        if reader.full:
            break
    return reader.body()


class CanvasAsyncHook(BaseHook):
    """Read-only async access to Canvas for triggers (listing a user's channels).

    It reads the same ``canvas`` connection as :class:`~airflow_provider_canvas.hooks.canvas.CanvasHook`
    and applies the same timeout, retry policy (with the sync hook's ``retry_base_delay``), pagination
    rules and error mapping, on ``httpx`` so the triggerer's event loop never blocks.

    :param canvas_conn_id: the Airflow connection holding the Canvas URL (host) and access token (password).
    :param kwargs: passed on to Airflow's ``BaseHook``.
    """

    def __init__(self, canvas_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.canvas_conn_id = canvas_conn_id
        self._settings: CanvasConnectionSettings | None = None
        self._redact = Redactor()

    async def asettings(self) -> CanvasConnectionSettings:
        """The parsed connection, read once without blocking the event loop.

        :return: the checked settings, as :attr:`.CanvasHook.settings`.
        :raises ~airflow_provider_canvas.exceptions.CanvasConfigurationError: the connection is unusable;
            the message names the field.
        """
        if self._settings is None:
            getter = getattr(BaseHook, "aget_connection", None)  # Airflow 3.1+
            if getter is not None:
                conn = await getter(self.canvas_conn_id)
            else:
                conn = await asyncio.to_thread(BaseHook.get_connection, self.canvas_conn_id)
            self._settings = settings_from_connection(conn, self.canvas_conn_id, self.log)
            self._redact.add(self._settings.token)
        return self._settings

    def _client(self, settings: CanvasConnectionSettings) -> httpx.AsyncClient:
        verify: bool | ssl.SSLContext = (
            settings.verify
            if isinstance(settings.verify, bool)
            else (ssl.create_default_context(cafile=settings.verify))
        )
        return httpx.AsyncClient(
            headers={
                "Authorization": f"Bearer {settings.token}",
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
                "User-Agent": f"airflow-provider-canvas/{__version__} python-httpx/{httpx.__version__}",
            },
            timeout=httpx.Timeout(settings.timeout),
            verify=verify,
            follow_redirects=False,
        )

    async def _get_json(
        self, client: httpx.AsyncClient, settings: CanvasConnectionSettings, url: str, params: Any
    ) -> tuple[_Answer, Any]:
        try:
            return await self._attempts(client, settings, url, params)
        except CanvasError as error:
            redact_error(error, self._redact)
            raise

    async def _attempts(
        self, client: httpx.AsyncClient, settings: CanvasConnectionSettings, url: str, params: Any
    ) -> tuple[_Answer, Any]:
        log_path = self._redact(redact_path(httpx.URL(url).path))
        attempts = 0
        data: Any = None

        async def attempt() -> _Answer:
            nonlocal attempts, data
            attempts += 1
            started = time.monotonic()
            token = _OWN_REQUEST.set(True)
            try:
                # One deadline for connect, headers and the whole body: httpx's own timeouts bound each
                # socket operation only, which a server dripping a byte at a time never trips.
                async with (
                    asyncio.timeout(settings.timeout),
                    client.stream("GET", url, params=params) as response,
                ):
                    answer = _Answer(response, await _read(response, settings.max_response_bytes))
            except TimeoutError:
                raise DeadlineExceeded() from None
            finally:
                _OWN_REQUEST.reset(token)
            self.log.info(
                "Canvas GET %s -> %s in %.3fs", log_path, answer.status_code, time.monotonic() - started
            )
            if 200 <= answer.status_code < 300:
                try:
                    data = parse_json(answer.body)
                except ValueError:
                    raise TransientBodyError("response body is not valid JSON") from None
            return answer

        def before_sleep(state: RetryCallState) -> None:
            assert state.next_action is not None
            self.log.warning(
                "Canvas GET %s: %s; retry %d of %d in %.1fs.",
                log_path,
                retry_reason(state),
                state.attempt_number,
                settings.max_retries,
                state.next_action.sleep,
            )

        policy = RetryPolicy(
            max_retries=settings.max_retries,
            base_delay=CanvasHook.retry_base_delay,
            max_total_wait=settings.max_retry_wait,
        )
        retrying = AsyncRetrying(
            **tenacity_kwargs(policy, is_transient=_is_transient, before_sleep=before_sleep)
        )
        try:
            answer: _Answer = await retrying(attempt)
        except httpx.TransportError as exc:
            ssl_error = find_ssl_error(exc)
            if ssl_error is not None:
                raise tls_error("GET", url, attempts, ssl_error) from None
            if isinstance(exc, httpx.TimeoutException):
                failure: CanvasError = deadline_error("GET", url, timeout=settings.timeout, attempts=attempts)
            else:
                failure = no_answer_error("GET", url, attempts=attempts, failure=type(exc).__name__)
            raise failure.add_detail(gave_up_early(policy, attempts)) from None
        except FAILURE_SIGNALS as signal:
            raise failure_error(
                signal, policy, method="GET", url=url, attempts=attempts, timeout=settings.timeout
            ) from None
        check_final_answer(answer, policy, method="GET", url=url, attempts=attempts, redact=self._redact)
        return answer, data

    async def aiter_communication_channels(self, user_id: object) -> AsyncIterator[dict]:
        """The user's unretired channels, page by page, following ``rel="next"`` like the sync hook.

        :param user_id: the user: a numeric id, ``"self"`` or a prefixed id such as ``"sis_user_id:S1"``.
        :return: an async iterator over Canvas's channel objects, in Canvas's order (by position).
        :raises ValueError: ``user_id`` is malformed (before any request).
        :raises ~airflow_provider_canvas.exceptions.CanvasError: a failure after the retries, as the
            matching subclass (``CanvasNotFoundError`` for an unknown user).

        :Canvas API: `List user communication channels <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.index>`__
            (``GET /api/v1/users/:user_id/communication_channels``)
        """
        segment = user_id_segment(user_id)
        settings = await self.asettings()
        pages = Pagination(
            settings.base_url + api_path("users", segment, CHANNELS),
            base_url=settings.base_url,
            per_page=settings.per_page,
            max_pages=settings.max_pages,
        )
        params: dict[str, Any] | None = {"per_page": settings.per_page}
        async with self._client(settings) as client:
            while pages.next_url:
                answer, data = await self._get_json(client, settings, pages.next_url, params)
                try:
                    page = pages.accept(answer.url, data)
                except CanvasError as error:
                    raise redact_error(error, self._redact) from None
                for item in page:
                    yield item
                try:
                    pages.advance(answer.url, answer.headers, page)
                except CanvasError as error:
                    raise redact_error(error, self._redact) from None
                params = None

    async def alist_communication_channels(self, user_id: object) -> list[dict]:
        """The user's unretired channels as a list: :meth:`aiter_communication_channels`, read to the end.

        :param user_id: the user: a numeric id, ``"self"`` or a prefixed id such as ``"sis_user_id:S1"``.
        :return: Canvas's channel objects in Canvas's order.
        :raises ValueError: ``user_id`` is malformed (before any request).
        :raises ~airflow_provider_canvas.exceptions.CanvasError: as :meth:`aiter_communication_channels`.

        :Canvas API: `List user communication channels <https://canvas.instructure.com/doc/api/communication_channels.html#method.communication_channels.index>`__
            (``GET /api/v1/users/:user_id/communication_channels``)
        """
        return [channel async for channel in self.aiter_communication_channels(user_id)]
