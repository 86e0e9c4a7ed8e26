"""RFC 8288 ``Link`` header parsing for Canvas pagination.

Canvas joins entries with a bare comma (``<a>; rel="current",<b>; rel="next"``) and documents that
links are opaque, so the parser only splits the header and never interprets the URLs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sized
from urllib.parse import urljoin

from airflow_provider_canvas.exceptions import CanvasResponseError
from airflow_provider_canvas.wire.urls import origin, safe_url

__all__ = ["next_link", "next_page_url", "parse_link_header"]


def _split_entries(value: str) -> list[str]:
    """Split on commas outside ``<...>`` and quoted strings (URLs may legally contain commas)."""
    entries: list[str] = []
    current: list[str] = []
    in_url = in_quote = False
    for char in value:
        if char == "<" and not in_quote:
            in_url = True
        elif char == ">" and not in_quote:
            in_url = False
        elif char == '"' and not in_url:
            in_quote = not in_quote
        elif char == "," and not in_url and not in_quote:
            entries.append("".join(current))
            current = []
            continue
        current.append(char)
    entries.append("".join(current))
    return [entry.strip() for entry in entries if entry.strip()]


def parse_link_header(value: str | None) -> dict[str, str]:
    """Map each relation (lower-cased) to its URL; the first entry for a relation wins.

    Malformed entries are skipped rather than raised: a damaged ``prev`` must not stop a sync whose
    ``next`` is intact.
    """
    links: dict[str, str] = {}
    if not value:
        return links
    for entry in _split_entries(value):
        if not entry.startswith("<") or ">" not in entry:
            continue
        url, _, params = entry[1:].partition(">")
        url = url.strip()
        if not url:
            continue
        for param in params.split(";"):
            name, sep, raw = param.partition("=")
            if not sep or name.strip().lower() != "rel":
                continue
            for rel in raw.strip().strip('"').split():
                links.setdefault(rel.lower(), url)
    return links


def next_link(headers: Mapping[str, str]) -> str | None:
    """The ``rel="next"`` URL from response headers, whatever the case of the header name."""
    for name, value in headers.items():
        if name.lower() == "link":
            return parse_link_header(value).get("next")
    return None


def next_page_url(
    current_url: str, headers: Mapping[str, str], page: Sized, *, base_url: str, seen: set[str]
) -> str | None:
    """Where pagination goes after ``page``: None to stop, or the next URL (recorded in ``seen``).

    Stops on an empty page, a missing ``next`` or a URL already fetched (a loop). A ``next`` on another
    scheme, host or port is refused: the access token is only ever sent to the connection's origin.
    """
    seen.add(current_url)
    link = next_link(headers)
    if not len(page) or not link:
        return None
    target = urljoin(current_url, link)
    if origin(target) != origin(base_url):
        scheme, host, port = origin(target)
        raise CanvasResponseError(
            f"Refused to follow a pagination link to {scheme}://{host}:{port}: it is not the connection's "
            f"origin {base_url}, and the access token is only sent there.",
            method="GET",
            url=safe_url(current_url),
        )
    if target in seen:
        return None
    return target
