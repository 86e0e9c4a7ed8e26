"""Fault injection: the failures a Canvas client meets in production, on demand.

Build faults with the ``Fault`` classmethods and arm them with ``FakeCanvas.inject`` (the next N matching
requests) or ``FakeCanvas.inject_random`` (a rate, for chaos tests). Three families:

* answered *instead of* Canvas (the application never runs, nothing changes): ``status``, ``reset``,
  ``stall``, ``malformed_json``, ``truncated_body``, ``empty_body``, ``redirect``;
* ``throttle``: refused by the throttle exactly as a full bucket would be (headers included);
* link faults that *alter* a real list answer (the operation does run): ``link_loop``, ``foreign_next``,
  ``downgrade_next``. Unless told otherwise they only arm for ``GET .../communication_channels``.

``reset`` and ``stall`` take ``after_processing=True`` to run the real operation first and then fail: the
client cannot tell whether its create or delete happened, which is the case retries must survive.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from . import errors
from .messages import JSON_CONTENT_TYPE, Response
from .pagination import LINK_ORDER

FaultKind = Literal[
    "status",
    "throttle",
    "reset",
    "stall",
    "malformed_json",
    "truncated_body",
    "empty_body",
    "redirect",
    "link_loop",
    "foreign_next",
    "downgrade_next",
]
LINK_KINDS = frozenset({"link_loop", "foreign_next", "downgrade_next"})
REPLACING_KINDS = frozenset({"status", "malformed_json", "truncated_body", "empty_body", "redirect"})
LIST_PATH = r"/communication_channels(?:\.json)?$"
_LINK_RE = re.compile(r'<([^>]*)>; rel="([^"]*)"')


@dataclass(frozen=True)
class Fault:
    """One failure to inject. Build it with the classmethods; the fields only record their arguments."""

    kind: FaultKind
    code: int | None = None
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str | None = None
    seconds: float = 0.0
    after_processing: bool = False
    respond: bool = False
    location: str | None = None
    origin: str | None = None

    @classmethod
    def status(
        cls,
        code: int,
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> Fault:
        """Answer ``code`` instead of Canvas; nothing changes on the server.

        Default bodies: Canvas's 500 JSON (with ``error_report_id``), proxy HTML for 502/503/504, the
        throttle text for 403 and 429, Canvas's JSON shapes for 400/401/404, else generic.

        :param code: the HTTP status.
        :param body: the body instead of the default one.
        :param headers: extra response headers.
        :param content_type: the ``Content-Type`` instead of the default one.
        """
        raw = body.encode("utf-8") if isinstance(body, str) else body
        return cls(
            "status", code=code, body=raw, headers=tuple((headers or {}).items()), content_type=content_type
        )

    @classmethod
    def throttle(cls, code: int | None = None) -> Fault:
        """Refused by the throttle exactly as a full bucket would be, headers included.

        :param code: the status; default ``ThrottleSettings.throttle_status`` (403, Canvas's own).
        """
        return cls("throttle", code=code)

    @classmethod
    def reset(cls, *, after_processing: bool = False) -> Fault:
        """Drop the connection with a TCP reset and no response.

        :param after_processing: run the real operation first, so the client cannot tell whether its
            create or delete happened.
        """
        return cls("reset", after_processing=after_processing)

    @classmethod
    def stall(cls, seconds: float, *, after_processing: bool = False, respond: bool = False) -> Fault:
        """Hold the request ``seconds`` (meant to outlast the client's timeout), then close without answering.

        ``respond=True`` answers normally after the pause instead: a slow server. Without
        ``after_processing`` the application then runs *after* the pause, so a client that gave up and
        retried can race its own first attempt, as with a real overloaded server.

        :param seconds: how long to hold the request.
        :param after_processing: run the real operation before the pause.
        :param respond: answer normally after the pause instead of closing.
        """
        return cls("stall", seconds=seconds, after_processing=after_processing, respond=respond)

    @classmethod
    def malformed_json(cls, body: str | bytes = '{"id":1,"address":"trunc') -> Fault:
        """200 with a JSON content type and a body that does not parse.

        :param body: the unparseable body.
        """
        return cls("malformed_json", body=body.encode("utf-8") if isinstance(body, str) else body)

    @classmethod
    def truncated_body(cls) -> Fault:
        """200 announcing more bytes than are sent, then the connection closes."""
        return cls("truncated_body")

    @classmethod
    def empty_body(cls) -> Fault:
        """200 with ``Content-Length: 0``."""
        return cls("empty_body")

    @classmethod
    def redirect(cls, location: str, code: int = 302) -> Fault:
        """A redirect (Rails' HTML body), e.g. to a login page or another host.

        :param location: the ``Location`` header.
        :param code: the redirect status.
        """
        return cls("redirect", code=code, location=location)

    @classmethod
    def link_loop(cls) -> Fault:
        """The list page's ``rel="next"`` is the page's own URL."""
        return cls("link_loop")

    @classmethod
    def foreign_next(cls, host: str | None = None) -> Fault:
        """``rel="next"`` points at another origin.

        :param host: the origin, e.g. ``http://127.0.0.2:8080``; default ``http://127.0.0.2:<same port>``.
        """
        return cls("foreign_next", origin=host)

    @classmethod
    def downgrade_next(cls) -> Fault:
        """``rel="next"`` keeps host and port but flips the scheme: the fake serves http, so it becomes https.
        It stands for the https-to-http downgrade a client must refuse against a real Canvas."""
        return cls("downgrade_next")


def fault_response(fault: Fault) -> Response:
    """The answer for faults that replace the application's answer."""
    if fault.kind == "status":
        code = fault.code or 500
        response = _default_status_response(code)
        if fault.body is not None:
            response.body = fault.body
        if fault.content_type is not None:
            response.content_type = fault.content_type
        response.headers.extend(fault.headers)
        return response
    if fault.kind == "redirect":
        location = fault.location or "/"
        html = f'<html><body>You are being <a href="{location}">redirected</a>.</body></html>'
        return Response(
            fault.code or 302, html.encode(), "text/html; charset=utf-8", [("Location", location)]
        )
    if fault.kind == "malformed_json":
        return Response(200, fault.body or b"", JSON_CONTENT_TYPE)
    if fault.kind == "truncated_body":
        return Response(200, b'[{"id":100001,"address":"partial@example.edu","ty', JSON_CONTENT_TYPE)
    if fault.kind == "empty_body":
        return Response(200, b"", JSON_CONTENT_TYPE)
    raise ValueError(f"{fault.kind} does not replace the answer")


def _default_status_response(code: int) -> Response:
    if code in (403, 429):
        return errors.throttle_response(code)
    if code in (502, 503, 504):
        return errors.proxy_error_response(code)
    if code == 500:
        return errors.internal_error().response()
    if code == 404:
        return errors.not_found().response()
    if code == 401:
        return errors.invalid_token().response()
    return errors.generic_error(code).response()


def rewrite_links(link_header: str, fault: Fault, port: int) -> str:
    """Apply a link fault to a Link header; ``next`` is always present afterwards."""
    entries = _LINK_RE.findall(link_header)
    urls = {rel: url for url, rel in entries}
    current = urls.get("current", "")
    if fault.kind == "link_loop":
        target = current
    else:
        target = urls.get("next") or _bump_page(current)
        parts = urlsplit(target)
        if fault.kind == "foreign_next":
            origin = urlsplit(fault.origin or f"http://127.0.0.2:{port}")
            parts = parts._replace(scheme=origin.scheme, netloc=origin.netloc)
        else:
            parts = parts._replace(scheme="https" if parts.scheme == "http" else "http")
        target = urlunsplit(parts)
    urls["next"] = target
    return ",".join(f'<{urls[rel]}>; rel="{rel}"' for rel in LINK_ORDER if rel in urls)


def _bump_page(url: str) -> str:
    return re.sub(r"([?&]page=)(\d+)", lambda m: f"{m.group(1)}{int(m.group(2)) + 1}", url, count=1)


@dataclass
class _Selector:
    method: str | None
    path: re.Pattern[str] | None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or bool(self.path.search(path))
        )


@dataclass
class _Armed:
    fault: Fault
    remaining: int
    selector: _Selector


@dataclass
class _RandomPlan:
    rate: float
    faults: list[Fault]
    rng: random.Random
    selector: _Selector


class FaultPlan:
    """Armed faults, consumed first come first served, then the random ones. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []
        self._random: _RandomPlan | None = None

    def add(self, fault: Fault, *, times: int, method: str | None, path: str | None) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        if fault.kind in LINK_KINDS:
            method = method or "GET"
            path = path or LIST_PATH
        armed = _Armed(fault, times, _selector(method, path))
        with self._lock:
            self._armed.append(armed)

    def set_random(
        self, rate: float, faults: list[Fault], seed: int | None, method: str | None, path: str | None
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if not faults:
            raise ValueError("faults must not be empty")
        plan = _RandomPlan(rate, list(faults), random.Random(seed), _selector(method, path))
        with self._lock:
            self._random = plan

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
            self._random = None

    def pick(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for index, armed in enumerate(self._armed):
                if armed.selector.matches(method, path):
                    armed.remaining -= 1
                    if armed.remaining == 0:
                        del self._armed[index]
                    return armed.fault
            plan = self._random
            if plan is None or not plan.selector.matches(method, path) or plan.rng.random() >= plan.rate:
                return None
            chosen = plan.rng.choice(plan.faults)
        if chosen.kind in LINK_KINDS and not (method == "GET" and re.search(LIST_PATH, path)):
            return None  # a link fault only makes sense on a list page
        return chosen


def _selector(method: str | None, path: str | None) -> _Selector:
    return _Selector(method.upper() if method else None, re.compile(path) if path else None)
