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
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState

from airflow_provider_canvas import __version__
from airflow_provider_canvas._compat import BaseHook
from airflow_provider_canvas.hooks._connection import settings_from_connection
from airflow_provider_canvas.hooks.canvas import CHANNELS, CanvasHook
from airflow_provider_canvas.wire.backoff import (
    RetryPolicy,
    TransientBodyError,
    retry_reason,
    tenacity_kwargs,
)
from airflow_provider_canvas.wire.config import DEFAULT_CONN_ID, CanvasConnectionSettings
from airflow_provider_canvas.wire.errors import (
    check_answer,
    no_answer_error,
    require_list,
    unreadable_body_error,
)
from airflow_provider_canvas.wire.links import next_page_url
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
    if isinstance(exc, httpx.ConnectError) and isinstance(exc.__cause__, ssl.SSLError):
        return False
    return isinstance(exc, httpx.TransportError)


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
                "User-Agent": f"airflow-provider-canvas/{__version__} python-httpx/{httpx.__version__}",
            },
            timeout=httpx.Timeout(settings.timeout),
            verify=verify,
            follow_redirects=False,
        )

    async def _get_json(
        self, client: httpx.AsyncClient, settings: CanvasConnectionSettings, url: str, params: Any
    ) -> tuple[httpx.Response, Any]:
        log_path = redact_path(httpx.URL(url).path)
        attempts = 0
        data: Any = None

        async def attempt() -> httpx.Response:
            nonlocal attempts, data
            attempts += 1
            started = time.monotonic()
            token = _OWN_REQUEST.set(True)
            try:
                response = await client.get(url, params=params)
            finally:
                _OWN_REQUEST.reset(token)
            self.log.info(
                "Canvas GET %s -> %s in %.3fs", log_path, response.status_code, time.monotonic() - started
            )
            if 200 <= response.status_code < 300:
                try:
                    data = response.json()
                except ValueError:
                    raise TransientBodyError("response body is not valid JSON") from None
            return response

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

        policy = RetryPolicy(max_retries=settings.max_retries, base_delay=CanvasHook.retry_base_delay)
        retrying = AsyncRetrying(
            **tenacity_kwargs(policy, is_transient=_is_transient, before_sleep=before_sleep)
        )
        try:
            response: httpx.Response = await retrying(attempt)
        except httpx.TransportError as exc:
            if isinstance(exc, httpx.TimeoutException):
                raise no_answer_error("GET", url, attempts=attempts, timeout=settings.timeout) from None
            raise no_answer_error("GET", url, attempts=attempts, failure=type(exc).__name__) from None
        except TransientBodyError:
            raise unreadable_body_error("GET", url, attempts) from None
        check_answer(
            status=response.status_code,
            headers=response.headers,
            body=response.text,
            method="GET",
            url=url,
            attempts=attempts,
        )
        return response, data

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
        next_url: str | None = settings.base_url + api_path("users", segment, CHANNELS)
        params: dict[str, Any] | None = {"per_page": settings.per_page}
        seen: set[int] = set()
        async with self._client(settings) as client:
            while next_url:
                response, data = await self._get_json(client, settings, next_url, params)
                page = require_list(data, next_url)
                for item in page:
                    yield item
                next_url = next_page_url(
                    str(response.url), response.headers, page, base_url=settings.base_url, seen=seen
                )
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
