"""RFC 8288 ``Link`` header parsing for Canvas pagination.

Canvas joins entries with a bare comma (``<a>; rel="current",<b>; rel="next"``) and documents that
links are opaque, so the parser only splits the header and never interprets the URLs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sized
from contextlib import suppress
from typing import Any
from urllib.parse import urljoin, urlsplit

from airflow_provider_canvas.exceptions import CanvasResponseError
from airflow_provider_canvas.wire.errors import require_list
from airflow_provider_canvas.wire.limits import oversized_page_error, too_many_pages_error
from airflow_provider_canvas.wire.urls import origin, safe_url

__all__ = ["Pagination", "next_link", "next_page_url", "parse_link_header", "requested_per_page"]

# A comma followed by a new "<": "<" cannot appear unescaped inside a URL reference.
_ENTRY_SEPARATOR = re.compile(r",\s*(?=<)")
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x21-\x7e]")


def _split_entries(value: str) -> list[str]:
    """Split on the commas that start a new ``<url>`` entry (URLs may legally contain commas)."""
    return [entry.strip() for entry in _ENTRY_SEPARATOR.split(value) if entry.strip()]


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
    return _links(headers).get("next")


def next_page_url(
    current_url: str, headers: Mapping[str, str], page: Sized, *, base_url: str, seen: set[int]
) -> str | None:
    """Where pagination goes after ``page``: None when the list is complete, else the next URL.

    The list is complete on an empty page or when there is no ``next``. A ``next`` on another scheme,
    host or port is refused (the access token is only ever sent to the connection's origin), and so is a
    ``next`` that points back at a page already fetched: stopping quietly there would hand back part of
    the list as if it were all of it, and a mirror sync or an "absent" check would act on that.
    ``seen`` collects the hashes of the URLs fetched so far (the requested and Canvas's ``current``
    form): hashes, not strings, so a 100,000-item list costs a few bytes per page, not a URL per page.
    """
    links = _links(headers)
    seen.add(hash(current_url))
    link = links.get("next")
    if not len(page) or not link:
        return None
    # Only ``next`` is ever followed; an odd ``current`` just cannot help detect loops.
    with suppress(CanvasResponseError):
        if "current" in links:
            seen.add(hash(_same_origin_url(current_url, links["current"], base_url)))
    target = _same_origin_url(current_url, link, base_url)
    if hash(target) in seen:
        raise CanvasResponseError(
            f"Canvas's pagination for GET {safe_url(current_url)} points back at a page already read "
            "(a Link loop), so the rest of the list cannot be reached; failing instead of returning part.",
            method="GET",
            url=safe_url(current_url),
        )
    return target


def _same_origin_url(current_url: str, link: str, base_url: str) -> str:
    """The ``next`` link rebuilt on the connection's own origin, or a refusal.

    Checking the link's origin is not enough on its own: parsers disagree on odd URLs (urllib reads
    ``http://a\\@b/`` as host ``b``, urllib3 as host ``a``), and the one that sends the request is not
    the one that checked. So only the link's path and query are kept, and the URL the token goes to is
    rebuilt from ``base_url``; anything odd about the authority is refused outright.
    """
    try:
        parts = urlsplit(urljoin(current_url, link))
        foreign = (
            "\\" in link
            or _NOT_PRINTABLE_ASCII.search(link) is not None
            or bool(parts.username or parts.password)
            or origin(parts.geturl()) != origin(base_url)
        )
    except ValueError:  # an unparseable port or IPv6 literal, a host that fails NFKC checks
        foreign = True
    if foreign:
        try:
            scheme, host, port = origin(link) if "\\" not in link else ("", "", None)
            shown = f"{scheme}://{host}:{port}" if host else "an unusable URL"
        except ValueError:
            shown = "an unusable URL"
        raise CanvasResponseError(
            f"Refused to follow a pagination link to {shown}: it is not the connection's origin "
            f"{base_url}, and the access token is only sent there.",
            method="GET",
            url=safe_url(current_url),
        )
    return base_url + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _links(headers: Mapping[str, str]) -> dict[str, str]:
    value = headers.get("link") or headers.get("Link")  # requests' and httpx's headers ignore case
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == "link"), None)  # plain dicts
    return parse_link_header(value)


class Pagination:
    """One listing's walk through its pages, the same for both transports.

    Each answer is checked before its items are handed out (:meth:`accept`): it must be a list holding no
    more items than ``per_page`` asked for. After them (:meth:`advance`), its ``next`` link must point at
    a new page on the connection's origin, within ``max_pages`` pages in all.
    """

    def __init__(self, first_url: str, *, base_url: str, per_page: int | None, max_pages: int) -> None:
        self.next_url: str | None = first_url
        self.base_url = base_url
        self.per_page = per_page
        self.max_pages = max_pages
        self.pages = 0
        self._seen: set[int] = set()

    def accept(self, current_url: str, data: Any) -> list:
        """The page's items, once they are known to be a list of the size asked for."""
        page = require_list(data, current_url)
        if self.per_page is not None and len(page) > self.per_page:
            raise oversized_page_error(current_url, len(page), self.per_page)
        self.pages += 1
        return page

    def advance(self, current_url: str, headers: Mapping[str, str], page: list) -> None:
        """Set :attr:`next_url` to the page after ``page``, or None when the list is complete."""
        next_url = next_page_url(current_url, headers, page, base_url=self.base_url, seen=self._seen)
        if next_url is not None and self.pages >= self.max_pages:
            raise too_many_pages_error(current_url, self.max_pages)
        self.next_url = next_url


def requested_per_page(params: Mapping[str, Any] | None) -> int | None:
    """The ``per_page`` a listing asked for, when it is a plain number (the page-size check needs it)."""
    value = (params or {}).get("per_page")
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
