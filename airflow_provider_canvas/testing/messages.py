"""Plain request/response values passed between the HTTP layer and the fake Canvas application.

Keeping them free of ``http.server`` types lets the application, the throttle and the faults be exercised
without a socket, and keeps the HTTP handler the only place that knows about wire details.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass(slots=True)
class Request:
    method: str
    path: str  # raw path, still percent-encoded, without the query string
    query: str  # raw query string, without the "?"
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    client_ip: str = "127.0.0.1"

    @property
    def host(self) -> str:
        return self.headers.get("host", "")


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = JSON_CONTENT_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    def set_header(self, name: str, value: str) -> None:
        lowered = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != lowered]
        self.headers.append((name, value))


def json_response(status: int, payload: object, headers: list[tuple[str, str]] | None = None) -> Response:
    # Compact separators, like Rails' to_json; non-ASCII stays UTF-8 as Canvas sends it.
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(status, body, JSON_CONTENT_TYPE, list(headers or []))


def text_response(status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    return Response(status, text.encode("utf-8"), content_type)
