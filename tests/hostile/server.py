"""A tiny HTTP/1.1 server on loopback whose answers a test writes byte by byte, to play a hostile host.

The fake Canvas follows Canvas; this one does what a misconfigured proxy, a captive portal or a
compromised host does: compression bombs, endless or dripping bodies, dripping headers, pagination that
never ends, JSON nesting bombs, odd rate-limit headers, secrets echoed back. Each behaviour is a function
``answer(request, conn)`` writing raw bytes through :class:`Conn`, which counts what it sent and stops as
soon as the client goes away or the server is stopped. Use it through the ``hostile`` fixture
(``tests/hostile/conftest.py``), which stops every server it started.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

__all__ = ["Conn", "HostileServer", "Request", "free_port"]

MAX_REQUEST_HEAD = 64 * 1024


class Gone(Exception):
    """The client hung up, or the server is stopping: the behaviour stops writing."""


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]  # names lower-cased
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.target).query).items()}

    @property
    def form(self) -> dict[str, str]:
        pairs = (item.partition("=") for item in self.body.decode("latin-1").split("&") if item)
        return {unquote_plus(k): unquote_plus(v) for k, _, v in pairs}

    @property
    def bearer(self) -> str:
        return self.headers.get("authorization", "").removeprefix("Bearer ")


@dataclass
class Conn:
    """One client connection, as the behaviours see it."""

    sock: socket.socket
    stopping: threading.Event
    sent: int = 0
    close: bool = False  # set by a behaviour: close after this answer (no keep-alive)

    def send(self, data: bytes) -> None:
        if self.stopping.is_set():
            raise Gone()
        try:
            self.sock.sendall(data)
        except OSError:
            raise Gone() from None
        self.sent += len(data)

    def pause(self, seconds: float) -> None:
        if self.stopping.wait(seconds):
            raise Gone()

    def drip(self, data: bytes, interval: float) -> None:
        for index in range(len(data)):
            self.send(data[index : index + 1])
            self.pause(interval)

    def head(self, status: int, headers: Iterable[tuple[str, str]] = (), reason: str = "X") -> None:
        lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers)]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def answer(
        self,
        status: int,
        body: Any = None,
        headers: Iterable[tuple[str, str]] = (),
        *,
        raw: bytes | None = None,
    ) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        headers = [("Content-Type", "application/json"), *headers, ("Content-Length", str(len(data)))]
        self.head(status, headers)
        self.send(data)

    def chunk(self, data: bytes) -> None:
        self.send(b"%x\r\n%s\r\n" % (len(data), data))


Behaviour = Callable[[Request, Conn], None]


@dataclass
class HostileServer:
    """Serves ``behaviour`` on 127.0.0.1 in a thread per connection until :meth:`stop`."""

    behaviour: Behaviour
    requests: list[Request] = field(default_factory=list)
    connections: list[Conn] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # so the accepting thread sees the stop promptly
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.port = self._listener.getsockname()[1]
        self._accepting = threading.Thread(target=self._accept, name="hostile-accept", daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def bytes_sent(self) -> int:
        return sum(conn.sent for conn in self.connections)

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            conns, threads = list(self.connections), list(self._threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        self._accepting.join(5)
        for thread in threads:
            thread.join(5)
        assert not any(t.is_alive() for t in threads), "a hostile connection thread did not stop"

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            # Head and body go out in separate writes: without this, Nagle's algorithm and the client's
            # delayed ACK hold the second one back for 40 ms.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Conn(sock, self._stopping)
            thread = threading.Thread(target=self._serve, args=(conn,), name="hostile-conn", daemon=True)
            with self._lock:
                self.connections.append(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: Conn) -> None:
        buffer = b""
        try:
            while not self._stopping.is_set() and not conn.close:
                request, buffer = _read_request(conn.sock, buffer)
                if request is None:
                    return
                self.requests.append(request)
                self.behaviour(request, conn)
        except (Gone, OSError):
            pass
        finally:
            conn.sock.close()


def _read_request(sock: socket.socket, buffer: bytes) -> tuple[Request | None, bytes]:
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > MAX_REQUEST_HEAD:
            return None, b""
        data = sock.recv(65536)
        if not data:
            return None, b""
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _ = line.split(" ", 2)
    headers = {}
    for header in header_lines:
        name, _, value = header.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            return None, b""
        rest += data
    return Request(method, target, headers, rest[:length]), rest[length:]


def free_port() -> int:
    """A loopback port nothing listens on (for a refused connection)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ----- building blocks for behaviours ------------------------------------------------------------------


def gzip_member(decoded: int) -> bytes:
    """One gzip member of ``decoded`` zero bytes: about a thousandth of that on the wire."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(b"\0" * decoded) + compressor.flush()


_MIB_OF_ZEROS = gzip_member(1024 * 1024)  # 1,043 bytes that decode to 1 MiB


def send_gzip_bomb(conn: Conn, decoded: int, *, status: int = 200) -> None:
    """A body that decodes to ``decoded`` bytes (multi-member gzip of 1 MiB members), chunked."""
    conn.head(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
            ("Transfer-Encoding", "chunked"),
        ],
    )
    for _ in range(decoded // (1024 * 1024)):
        conn.chunk(_MIB_OF_ZEROS)
    conn.send(b"0\r\n\r\n")


def send_endless_chunked(conn: Conn) -> None:
    """``[0,0,0,...`` forever, in 64 KiB chunks, until the client hangs up."""
    conn.head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
    conn.chunk(b"[")
    block = b"0," * 32768
    while True:
        conn.chunk(block)


def gzip_json(body: Any) -> bytes:
    return gzip.compress(json.dumps(body).encode())


def now() -> float:
    return time.monotonic()
