"""Canvas's page-number pagination and its Link header (behaviour document §7, ``Api.paginate``).

Details that clients trip over are kept: ``per_page`` goes through Ruby's ``to_i`` and is clamped, a page past
the end is an empty 200 whose links carry ``next`` but no ``last``, entries are joined by a bare comma, and
the other query parameters are re-emitted sorted, as Rails' ``to_query`` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from . import errors
from .state import ruby_to_i

DEFAULT_PER_PAGE = 10
# Folio's own default page size: the synthetic page Canvas builds past the end never gets the requested
# per_page, so its links carry this value (derived from folio's source, UNVERIFIED against a live Canvas).
FOLIO_DEFAULT_PER_PAGE = 30
EXCLUDED_PARAMS = frozenset({"page", "per_page", "access_token", "api_key"})
LINK_ORDER = ("current", "next", "prev", "first", "last")
LINK_PRIORITY = ("next", "last", "prev", "current", "first")
MAX_LINKS_SIZE = 6 * 1024  # Canvas drops lower-priority links rather than exceed Apache's header limit
_STRICT_INT_RE = re.compile(r"\s*[+-]?[0-9]+\s*")
_SEGMENT_SAFE = "!$&'()*+,;=:@-._~"  # Rails' escape_segment leaves sub-delims, ":" and "@" alone


@dataclass(frozen=True, slots=True)
class Page:
    start: int  # slice bounds into the collection
    stop: int
    per_page: int
    links: dict[str, int]  # rel -> page number


def per_page_for(raw: str | None, maximum: int) -> int:
    """``Api.per_page_for``: ``to_i`` then clamp, so "abc", "0" and "-5" all mean 1."""
    requested = DEFAULT_PER_PAGE if raw is None else ruby_to_i(raw)
    return max(1, min(requested, maximum))


def paginate(total: int, raw_page: str | None, per_page: int) -> Page:
    """``Api.paginate_collection!`` over an ordinal collection of ``total`` items."""
    total_pages = max(1, -(-total // per_page))
    page = 1 if raw_page is None else _strict_page(raw_page)
    if page is not None and 1 <= page <= total_pages:
        links = {"current": page, "first": 1, "last": total_pages}
        if page < total_pages:
            links["next"] = page + 1
        if page > 1:
            links["prev"] = page - 1
        start = (page - 1) * per_page
        return Page(start, min(start + per_page, total), per_page, links)
    # Folio::InvalidPage. Canvas answers [] for anything that looks like a positive page, else 404.
    assert raw_page is not None
    synthetic = ruby_to_i(raw_page)
    if not re.search(r"[0-9]", raw_page) or synthetic <= 0:
        raise errors.bad_page()
    links = {"current": synthetic, "next": synthetic + 1, "first": 1}
    if synthetic > 1:
        links["prev"] = synthetic - 1
    return Page(0, 0, FOLIO_DEFAULT_PER_PAGE, links)


def link_header(base_url: str, query_pairs: list[tuple[str, str]], page: Page) -> str:
    """``Api.build_links_hash`` + ``build_links_from_hash``: no spaces after the commas."""
    query = _to_query(query_pairs)
    prefix = f"{base_url}?{query}&" if query else f"{base_url}?"
    urls: dict[str, str] = {}
    size = 0
    for rel in LINK_PRIORITY:
        if rel not in page.links:
            continue
        url = f"{prefix}page={page.links[rel]}&per_page={page.per_page}"
        if size + len(url) > MAX_LINKS_SIZE:
            break
        size += len(url)
        urls[rel] = url
    return ",".join(f'<{urls[rel]}>; rel="{rel}"' for rel in LINK_ORDER if rel in urls)


def escape_segment(segment: str) -> str:
    return quote(segment, safe=_SEGMENT_SAFE)


def _strict_page(raw: str) -> int | None:
    """will_paginate's ``Integer(value)``: the whole string must be an integer."""
    return int(raw) if _STRICT_INT_RE.fullmatch(raw) else None


def _to_query(pairs: list[tuple[str, str]]) -> str:
    """Rails ``Hash#to_query`` over Rack-parsed query parameters.

    Rack keeps the last value of a repeated plain key and every value of a ``key[]`` key (in order); Rails
    then sorts the rendered ``key=value`` groups, with each array rendered as one group.
    """
    groups: dict[str, list[str]] = {}
    for key, value in pairs:
        if key in EXCLUDED_PARAMS:
            continue
        rendered = f"{quote_plus(key)}={quote_plus(value)}"
        if key.endswith("[]"):
            groups.setdefault(key, []).append(rendered)
        else:
            groups[key] = [rendered]
    return "&".join(sorted("&".join(parts) for parts in groups.values()))
