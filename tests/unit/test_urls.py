from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from airflow_provider_canvas.wire.urls import (
    api_path,
    channel_id_segment,
    encode_segment,
    endpoint_url,
    origin,
    redact_path,
    safe_url,
    user_id_segment,
)

BASE = "https://canvas.example.edu"


@pytest.mark.parametrize(
    ("user_id", "segment"),
    [
        (42, "42"),
        ("42", "42"),
        (" 42 ", "42"),
        ("self", "self"),
        ("sis_user_id:A123", "sis_user_id:A123"),
        ("sis_login_id:jane.doe@example.edu", "sis_login_id:jane.doe@example.edu"),
        ("sis_user_id:a/b", "sis_user_id:a%2Fb"),
        ("sis_user_id:1/../../accounts/1", "sis_user_id:1%2F..%2F..%2Faccounts%2F1"),
        ("sis_user_id:José", "sis_user_id:Jos%C3%A9"),
        ("sis_user_id:a b?c#d%e", "sis_user_id:a%20b%3Fc%23d%25e"),
    ],
)
def test_user_id_forms_become_one_segment(user_id, segment):
    assert user_id_segment(user_id) == segment


@pytest.mark.parametrize(
    ("user_id", "fragment"),
    [
        ("1/../../accounts/1", "not a Canvas user reference"),
        ("..", "not a Canvas user reference"),
        ("12?x=1", "not a Canvas user reference"),
        ("12#top", "not a Canvas user reference"),
        ("1 2", "not a Canvas user reference"),
        ("١٢", "not a Canvas user reference"),
        ("0", "positive"),
        (0, "positive"),
        (-5, "positive"),
        ("-5", "positive"),
        ("12345678901234567890", "at most 19 digits"),
        ("", "empty"),
        ("sis_user_id:", "empty value"),
        ("sis_user_id:abc.json", ".json"),
        ("fax_id:1", "known prefixes"),
        ("sis_user_id:" + "x" * 300, "at most 255"),
        (True, "must be an int or a string"),
        (1.5, "must be an int or a string"),
        (None, "must be an int or a string"),
        (["1"], "must be an int or a string"),
    ],
)
def test_bad_user_ids_name_the_field(user_id, fragment):
    with pytest.raises(ValueError, match="user_id") as info:
        user_id_segment(user_id)
    assert fragment in str(info.value)


@pytest.mark.parametrize("bad", [0, -1, "x", "1.0", "", True, None, "1/2"])
def test_bad_channel_ids(bad):
    with pytest.raises(ValueError, match="channel_id"):
        channel_id_segment(bad)


def test_channel_id_normalised():
    assert channel_id_segment("007") == "7"
    assert channel_id_segment(15) == "15"


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_traversal_segments_refused(value):
    with pytest.raises(ValueError):
        encode_segment(value)


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [
        ("users/self", "/api/v1/users/self"),
        ("/users/self/", "/api/v1/users/self"),
        ("api/v1/users/self", "/api/v1/users/self"),
        ("/api/v1/users/1/communication_channels", "/api/v1/users/1/communication_channels"),
    ],
)
def test_endpoint_url(endpoint, path):
    assert endpoint_url(BASE, endpoint) == BASE + path


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://evil.example/api/v1/users/self",
        "//evil.example/x",
        "users/../accounts/1",
        "users//1",
        "",
        "users/self?x=1",
    ],
)
def test_endpoint_cannot_leave_the_api(endpoint):
    with pytest.raises(ValueError, match="endpoint"):
        endpoint_url(BASE, endpoint)


def test_origin_normalises_default_ports():
    assert origin("https://Canvas.Example.edu/x") == ("https", "canvas.example.edu", 443)
    assert origin("http://127.0.0.1:8080/") == ("http", "127.0.0.1", 8080)
    assert origin("https://a:443/") == origin("https://a/")
    assert origin("http://a/") != origin("https://a/")


def test_redaction_hides_addresses_and_email_like_segments():
    assert redact_path("/api/v1/users/1/communication_channels/email/jane%40x.edu") == (
        "/api/v1/users/1/communication_channels/email/<address>"
    )
    assert redact_path("/api/v1/users/sis_login_id:jane@x.edu/communication_channels") == (
        "/api/v1/users/<redacted>/communication_channels"
    )
    assert redact_path("/api/v1/users/1/communication_channels/sms/+15551234567").endswith("/sms/<address>")
    assert (
        redact_path("/api/v1/users/1/communication_channels/7") == "/api/v1/users/1/communication_channels/7"
    )


def test_safe_url_drops_query_and_credentials():
    url = "https://user:pw@canvas.example.edu:8443/api/v1/users/1?access_token=SECRET&page=2#frag"
    assert safe_url(url) == "https://canvas.example.edu:8443/api/v1/users/1"


@given(st.text(min_size=1, max_size=80))
def test_any_prefixed_id_stays_one_segment_and_round_trips(value):
    text = "sis_user_id:" + value
    try:
        segment = user_id_segment(text)
    except ValueError:
        return
    assert "/" not in segment and "?" not in segment and "#" not in segment
    assert unquote(segment) == text.strip()
    url = BASE + api_path("users", segment, "communication_channels")
    parts = urlsplit(url)
    assert parts.netloc == "canvas.example.edu"
    assert parts.path.split("/")[1:] == ["api", "v1", "users", segment, "communication_channels"]


@given(st.one_of(st.text(max_size=40), st.integers(), st.none(), st.floats(), st.booleans()))
def test_user_id_never_yields_a_path_changing_segment(value):
    try:
        segment = user_id_segment(value)
    except ValueError:
        return
    assert segment not in ("", ".", "..")
    assert not any(ch in segment for ch in "/?#\\")


@given(st.text(min_size=1, max_size=60))
def test_encode_segment_round_trips(value):
    assume(value not in (".", ".."))
    assume(not any(ord(ch) < 32 or ord(ch) == 127 for ch in value))
    encoded = encode_segment(value)
    assert "/" not in encoded and "?" not in encoded and "#" not in encoded
    assert unquote(encoded) == value
