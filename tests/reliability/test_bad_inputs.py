"""Every entry of the bad-input catalogue, against the fake Canvas over real HTTP; and property-based
checks of path building and Link following as the HTTP transports (not just ``urllib.parse``) see them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from airflow_provider_canvas.exceptions import CanvasResponseError
from airflow_provider_canvas.hooks.canvas import CanvasHook
from airflow_provider_canvas.testing import FakeCanvas
from airflow_provider_canvas.wire.channels import validate_address
from airflow_provider_canvas.wire.links import next_page_url
from airflow_provider_canvas.wire.urls import (
    api_path,
    encode_segment,
    origin,
    safe_url,
    user_id_segment,
)
from reliability.catalogue import BAD_INPUTS, HANDLED, BadInput
from tests.operators.conftest import RecordingTaskInstance

KEEP: Any = ...  # connection values left as the fake's


class Env:
    """What a catalogue entry's ``call`` may use (see ``catalogue.py``)."""

    def __init__(self, canvas: FakeCanvas, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        self.canvas = canvas
        self._monkeypatch = monkeypatch
        self._tmp_path = tmp_path
        self.context = {"ti": RecordingTaskInstance()}
        (channel,) = [c for c in canvas.all_channels() if c["address"] == "demo-student-1@example.edu"]
        self.user = int(channel["user_id"])
        self._hooks: list[CanvasHook] = []
        self.connect()
        self._hook: CanvasHook | None = self._new_hook()

    def _new_hook(self) -> CanvasHook:
        hook = CanvasHook()
        hook.get_conn()  # the connection is read up front: only the call itself could send anything
        self._hooks.append(hook)
        return hook

    def hook(self) -> CanvasHook:
        return self._hook if self._hook is not None else CanvasHook()

    def file(self, name: str, text: str) -> str:
        path = self._tmp_path / name
        path.write_text(text, encoding="utf-8", newline="")
        return str(path)

    def connect(self, *, host: Any = KEEP, password: Any = KEEP, extra: dict[str, Any] | None = None) -> None:
        conn: dict[str, Any] = {
            "conn_type": "canvas",
            "host": self.canvas.base_url if host is KEEP else host,
            "password": self.canvas.admin_token if password is KEEP else password,
            "extra": {"timeout": 5, **(extra or {})},
        }
        self._monkeypatch.setenv("AIRFLOW_CONN_CANVAS_DEFAULT", json.dumps(conn))
        self._hook = None  # a changed connection is read by the call itself

    def close(self) -> None:
        for hook in self._hooks:
            hook.close()


@pytest.fixture
def env(canvas_connection: FakeCanvas, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    environment = Env(canvas_connection, monkeypatch, tmp_path)
    yield environment
    environment.close()


def test_the_catalogue_is_complete_and_well_formed():
    ids = [entry.id for entry in BAD_INPUTS]
    assert len(ids) == len(set(ids)), "ids must be unique"
    assert len([e for e in BAD_INPUTS if e.error != HANDLED]) >= 50
    for entry in BAD_INPUTS:
        assert entry.target and entry.input and entry.field and entry.message, entry.id
        assert entry.error == HANDLED or (
            isinstance(entry.error, type) and issubclass(entry.error, BaseException)
        ), entry.id
        assert (entry.error == HANDLED) == (entry.result is not None), entry.id
    targets = {entry.target for entry in BAD_INPUTS}
    for needed in (
        "CanvasHook.list_communication_channels",
        "CanvasHook.create_communication_channel",
        "CanvasHook.delete_communication_channel",
        "CanvasHook.delete_push_token",
        "CanvasListCommunicationChannelsOperator",
        "CanvasCreateCommunicationChannelOperator",
        "CanvasDeleteCommunicationChannelOperator",
        "CanvasDeletePushTokenOperator",
        "CanvasSyncCommunicationChannelsOperator",
        "CanvasCommunicationChannelSensor",
        "connection (canvas_default)",
    ):
        assert needed in targets, needed


@pytest.mark.parametrize("entry", BAD_INPUTS, ids=[entry.id for entry in BAD_INPUTS])
def test_bad_input(entry: BadInput, env: Env):
    env.canvas.clear_requests()
    if entry.error == HANDLED:
        assert entry.call(env) == dict(entry.result or {})
    else:
        assert isinstance(entry.error, type)
        with pytest.raises(BaseException) as info:
            entry.call(env)
        error = info.value
        assert isinstance(error, entry.error), f"{type(error).__name__}: {error}"
        assert entry.message in str(error)
        assert entry.field in str(error), "the message must name the field"
    if entry.local:
        sent = [(r.method, r.path) for r in env.canvas.requests]
        assert sent == [], "judged locally, so nothing may reach Canvas"


# ----- property-based: Link following as requests and httpx see it ------------------------------------

BASE = "http://127.0.0.1:1111"
CURRENT = BASE + "/api/v1/users/1/communication_channels?per_page=10"
ORIGIN_HOST = "127.0.0.1:1111"
OTHER_HOSTS = ["127.0.0.1:2222", "evil.example", "localhost:1111", "[::1]:1111", "127.0.0.1"]
SCHEMES = ["http:", "https:", "HTTP:", "", " http:"]
SLASHES = ["//", "\\\\", "/\\", "\\/", "///", "/", ""]
SEPARATORS = ["@", "\\@", "%40", "#@", "?@", "/@", ";@", "\\", ":@", "\t@", "@@", ".", ":"]
PATHS = ["/api/v1/users/1/communication_channels?page=2", "", "?page=2", "\\x", "#x"]


def _link(parts: tuple[str, ...]) -> str:
    return "".join(parts)


link_targets = st.tuples(
    st.sampled_from(SCHEMES),
    st.sampled_from(SLASHES),
    st.sampled_from(["", ORIGIN_HOST, *OTHER_HOSTS]),
    st.sampled_from(["", *SEPARATORS]),
    st.sampled_from([ORIGIN_HOST, *OTHER_HOSTS]),
    st.sampled_from(PATHS),
).map(_link)


def _requests_origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        prepared = requests.Request("GET", url).prepare().url
    except (requests.RequestException, ValueError):
        return None  # requests refuses the URL: nothing would be sent
    assert prepared is not None
    parsed = parse_url(prepared)  # what urllib3 connects to
    scheme = (parsed.scheme or "").lower()
    return (
        scheme,
        (parsed.host or "").lower().strip("[]"),
        parsed.port or {"http": 80, "https": 443}.get(scheme),
    )


def _httpx_origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return None
    scheme = parsed.scheme.lower()
    return scheme, parsed.host.lower(), parsed.port or {"http": 80, "https": 443}.get(scheme)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(link_targets)
@example("http://127.0.0.1:2222\\@127.0.0.1:1111/api/v1/users/1/communication_channels?page=2")
@example("//127.0.0.1:2222\\@127.0.0.1:1111/api/v1/users/1/communication_channels?page=2")
@example("http://127.0.0.1:1111@127.0.0.1:2222/api/v1/users/1/communication_channels?page=2")
@example("//127.0.0.1:2222/api/v1/users/1/communication_channels?page=2")
def test_accepted_next_links_stay_on_the_connection_origin_for_both_transports(link: str):
    """Whatever ``rel="next"`` says, a page the hook goes on to fetch is fetched from the connection's origin.

    The origin check parses with ``urllib.parse``; requests (urllib3) and httpx parse URLs themselves. A URL
    they read differently (``\\`` ends the authority for urllib3, not for ``urllib.parse``) must be refused,
    else the bearer token goes to another host.
    """
    header = {"Link": f'<{link}>; rel="next"'}
    try:
        target = next_page_url(CURRENT, header, [{"id": 1}], base_url=BASE, seen=set())
    except CanvasResponseError:
        return
    if target is None:
        return
    expected = origin(BASE)
    for name, seen_by in (("requests", _requests_origin(target)), ("httpx", _httpx_origin(target))):
        assert seen_by in (None, expected), f"{name} would send {target!r} to {seen_by}"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(st.text(max_size=200), link_targets.map(lambda url: f'<{url}>; rel="next"')))
@example('<http://\uff20evil.example/x>; rel="next"')  # a full-width @ in the authority
@example('<http://[::1/x>; rel="next"')  # an unclosed IPv6 bracket
def test_any_link_header_gives_a_next_page_or_a_typed_error(header: str):
    """A hostile or broken Link header ends pagination, or raises ``CanvasResponseError``: never anything
    untyped (a bare ``ValueError`` from URL parsing would escape the retry and error mapping)."""
    try:
        target = next_page_url(CURRENT, {"Link": header}, [{"id": 1}], base_url=BASE, seen=set())
    except CanvasResponseError:
        return
    assert target is None or isinstance(target, str)


# ----- property-based: built request URLs, as the transport sends them ---------------------------------

_piece = st.sampled_from(
    [*"aZ09@.+-_/\\?#%:; ~!$&'()*,=[]{}|^`\"<>", "\u00e9", "\u200b", "\uff20", "\u2215", "%2F", "%2e", ".."]
)
tricky_text = st.lists(_piece, min_size=1, max_size=30).map("".join)
CANVAS = "https://canvas.example.edu"


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["sis_user_id:", "sis_login_id:", "sis_integration_id:", "hex:sis_user_id:", "uuid:"]),
    tricky_text,
    tricky_text,
)
@example("sis_login_id:", "jane.doe@example.edu", "jane+tag")
@example("sis_user_id:", "1/../../accounts/1", "a%2F..%2F")
def test_built_urls_stay_in_their_segments_as_the_transport_sends_them(prefix: str, value: str, local: str):
    """A delete-by-address URL, as requests prepares it and urllib3 sends it, stays on the host with the user
    and the address each in exactly one segment (round-tripping), and its log/error form hides both the
    address and e-mail-like user references."""
    try:
        user_segment = user_id_segment(prefix + value)
    except ValueError:
        return
    try:
        address = validate_address("email", local + "@example.edu")
    except ValueError:
        address = "fallback@example.edu"
    url = CANVAS + api_path(
        "users", user_segment, "communication_channels", "email", encode_segment(address, field="address")
    )
    sent = requests.Request("DELETE", url).prepare().url
    assert sent is not None
    parsed = parse_url(sent)
    assert (parsed.scheme, parsed.host, parsed.query, parsed.fragment) == (
        "https",
        "canvas.example.edu",
        None,
        None,
    )
    segments = (parsed.path or "").split("/")
    assert segments[:4] == ["", "api", "v1", "users"] and len(segments) == 8, sent
    assert unquote(segments[4]) == (prefix + value).strip()
    assert unquote(segments[7]) == address
    shown = safe_url(sent)
    assert address not in unquote(shown) and "@" not in unquote(shown), shown
