"""The HTTP side of the fake: threads, keep-alive, the throttle, latency and faults around the application.

Order per request, as in Canvas's middleware stack: faults that stand in for a proxy or the network come
first; then the throttle reserves the up-front cost; latency is spent *while the request is in flight*
(so concurrent slow requests pile up in the bucket exactly as on Canvas); the application runs; the
throttle refunds and writes its headers. Each response goes out in a single write with Content-Length, on
an HTTP/1.1 connection that stays open for the next request.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import errors
from .app import CanvasApp
from .control import CONTROL_PREFIX
from .faults import LINK_KINDS, REPLACING_KINDS, Fault, FaultPlan, fault_response, rewrite_links
from .messages import Request, Response
from .throttle import Throttle, bucket_key, ruby_float

MAX_RECORDED = 100_000
_SocketRequest = socket.socket | tuple[bytes, socket.socket]  # socketserver's request type
_TRUNCATED_MISSING_BYTES = 64


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the fake received it, from :attr:`.FakeCanvas.requests`.

    :ivar method: the HTTP method.
    :ivar path: the path, raw (still percent-encoded).
    :ivar query: the query string (the last value wins).
    :ivar headers: the headers, names lower-cased (``authorization`` included).
    :ivar status: the status answered; None when the connection was dropped.
    :ivar throttled: refused by the throttle.
    :ivar started_at: ``time.time()`` when it arrived.
    :ivar duration: seconds until it was answered.
    :ivar body: the request body.
    :ivar fault: the kind of the fault applied, if any.
    """

    method: str
    path: str  # raw, still percent-encoded
    query: dict[str, str]  # last value wins
    headers: dict[str, str]  # lower-cased names
    status: int | None
    throttled: bool
    started_at: float  # time.time()
    duration: float  # seconds
    body: bytes = b""
    fault: str | None = None  # the kind of the fault applied, if any


@dataclass(slots=True)
class _Outcome:
    response: Response | None  # None: close the connection without answering
    throttled: bool = False
    reset: bool = False  # close with a TCP reset rather than an orderly close
    missing_bytes: int = 0  # announce this many more body bytes than are sent, then close


class Pipeline:
    def __init__(self, app: CanvasApp, throttle: Throttle, faults: FaultPlan) -> None:
        self.app = app
        self.throttle = throttle
        self.faults = faults
        self.latency = 0.0
        self.stopping = threading.Event()
        self.records: deque[RequestRecord] = deque(maxlen=MAX_RECORDED)
        self.port = 0
        self._lock = threading.Lock()
        self.received = 0
        self.faults_applied = 0
        # Answers /__fake__/ routes before anything else, so observing a run never changes it.
        self.control: Callable[[Request], Response] | None = None

    def reset_counters(self) -> None:
        with self._lock:
            self.received = self.faults_applied = 0
        self.throttle.reset_counters()

    def serve(self, handler: Handler) -> None:
        started, clock = time.time(), time.perf_counter()
        try:
            request = _read_request(handler)
        except ValueError:  # a Content-Length or chunk size that is not a number
            handler.close_connection = True
            handler.send_error(400)
            return
        if self.control is not None and request.path.startswith(CONTROL_PREFIX):
            _send(handler, request, self.control(request))
            return
        fault = self.faults.pick(request.method, request.path)
        with self._lock:
            self.received += 1
            self.faults_applied += fault is not None
        outcome = _Outcome(None)
        try:
            outcome = self._process(request, fault)
        finally:
            # Recorded before anything goes back, so a client that has its answer also sees the record.
            self.records.append(
                RequestRecord(
                    request.method,
                    request.path,
                    dict(parse_qsl(request.query, keep_blank_values=True)),
                    request.headers,
                    outcome.response.status if outcome.response else None,
                    outcome.throttled,
                    started,
                    time.perf_counter() - clock,
                    request.body,
                    fault.kind if fault else None,
                )
            )
        _deliver(handler, request, outcome)

    def _process(self, request: Request, fault: Fault | None) -> _Outcome:
        early = fault if fault is not None and not fault.after_processing else None
        if early is not None:
            if early.kind == "reset":
                return _Outcome(None, reset=True)
            if early.kind == "stall" and not self._pause(early):
                return _Outcome(None)
            if early.kind in REPLACING_KINDS:
                truncated = early.kind == "truncated_body"
                return _Outcome(
                    fault_response(early), missing_bytes=_TRUNCATED_MISSING_BYTES if truncated else 0
                )
        response, throttled = self._admit(request, fault)
        if fault is not None and fault.kind in LINK_KINDS:
            link = response.header("Link")
            if link:
                response.set_header("Link", rewrite_links(link, fault, self.port))
        if fault is not None and fault.after_processing:
            if fault.kind == "reset":
                return _Outcome(None, throttled, reset=True)
            if not self._pause(fault):
                return _Outcome(None, throttled)
        return _Outcome(response, throttled)

    def _pause(self, fault: Fault) -> bool:
        """Hold a stalled request; False when the connection is then to be closed without an answer."""
        return not self.stopping.wait(fault.seconds) and fault.respond

    def _admit(self, request: Request, fault: Fault | None) -> tuple[Response, bool]:
        settings = self.throttle.settings
        forced = fault is not None and fault.kind == "throttle"
        admission = self.throttle.begin(bucket_key(_bucket_token(request), request.client_ip), force=forced)
        cost = 0.0
        try:
            if admission.throttled:
                code = fault.code if forced and fault is not None and fault.code else settings.throttle_status
                response = errors.throttle_response(code)
            else:
                if self.latency > 0:
                    self.stopping.wait(self.latency)
                response = self.app.handle(request)
                cost = settings.cost
        finally:
            remaining = self.throttle.end(admission, cost)
        if not admission.throttled:
            response.set_header("X-Request-Cost", ruby_float(cost))
        response.set_header("X-Rate-Limit-Remaining", ruby_float(remaining))
        return response, admission.throttled


def _bucket_token(request: Request) -> str | None:
    """Canvas buckets by the token from the header or the *query string* (not a form body)."""
    header = request.headers.get("authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip() or None
    if "access_token" in request.query:
        return dict(parse_qsl(request.query)).get("access_token") or None
    return None


def _read_request(handler: Handler) -> Request:
    target = handler.path
    if not target.startswith("/"):  # absolute-form request target
        parts = urlsplit(target)
        path, query = parts.path or "/", parts.query
    else:
        path, _, query = target.partition("?")
    headers = {key.lower(): value for key, value in handler.headers.items()}
    return Request(
        handler.command, path, query, headers, _read_body(handler, headers), handler.client_address[0]
    )


def _read_body(handler: Handler, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(headers.get("content-length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def _deliver(handler: Handler, request: Request, outcome: _Outcome) -> None:
    if outcome.reset:
        _reset(handler)
    elif outcome.response is None:
        handler.close_connection = True
    else:
        _send(handler, request, outcome.response, extra_length=outcome.missing_bytes)
        handler.close_connection = handler.close_connection or outcome.missing_bytes > 0


def _send(handler: Handler, request: Request, response: Response, *, extra_length: int = 0) -> None:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [
        f"HTTP/1.1 {response.status} {reason}",
        f"Date: {handler.date_time_string()}",
        "Server: FakeCanvas",
    ]
    if response.content_type:
        lines.append(f"Content-Type: {response.content_type}")
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    lines.append(f"Content-Length: {len(response.body) + extra_length}")
    if handler.close_connection:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    handler.wfile.write(head if request.method == "HEAD" else head + response.body)


def _reset(handler: Handler) -> None:
    """Close with SO_LINGER 0, so the client gets a TCP RST instead of an orderly end of stream."""
    handler.close_connection = True
    connection = handler.connection
    with contextlib.suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.rfile.close()  # the makefile() reader holds a reference that would delay the real close
    connection.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: HTTPServer

    def do_GET(self) -> None:
        self.server.pipeline.serve(self)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            sys.stderr.write(f"fake-canvas {self.address_string()} {format % args}\n")


class HTTPServer(ThreadingHTTPServer):
    """One daemon thread per connection, each tracked so ``close_connections`` can end them promptly."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], pipeline: Pipeline, *, verbose: bool = False) -> None:
        self.pipeline = pipeline
        self.verbose = verbose
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request: _SocketRequest, client_address: Any) -> None:
        assert isinstance(request, socket.socket)  # TCP only
        thread = threading.Thread(
            target=self._handle_connection,
            args=(request, client_address),
            name="fake-canvas-conn",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def _handle_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._connections_lock:
                self._connections.pop(request, None)

    def handle_error(self, request: _SocketRequest, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the client went away (or a reset fault closed the socket): nothing to report
        super().handle_error(request, client_address)

    def close_connections(self, timeout: float) -> None:
        """Shut every open connection, which wakes idle keep-alive readers, then join their threads."""
        with self._connections_lock:
            open_connections = list(self._connections.items())
        for connection, _ in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for _, thread in open_connections:
            thread.join(max(0.0, deadline - time.monotonic()))
