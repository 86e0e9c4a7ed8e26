from __future__ import annotations

import pytest

from airflow_provider_canvas import get_provider_info
from airflow_provider_canvas.exceptions import CanvasConfigurationError
from airflow_provider_canvas.wire.config import KNOWN_EXTRAS, normalize_base_url, parse_connection


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("https://canvas.example.edu", "https://canvas.example.edu"),
        ("https://canvas.example.edu/", "https://canvas.example.edu"),
        ("https://canvas.example.edu/api/v1", "https://canvas.example.edu"),
        ("https://canvas.example.edu/api/v1/", "https://canvas.example.edu"),
        ("canvas.example.edu", "https://canvas.example.edu"),
        ("  https://Canvas.Example.edu:8443/  ", "https://canvas.example.edu:8443"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://localhost:5000/api/v1", "http://localhost:5000"),
        ("http://[::1]:5000", "http://[::1]:5000"),
    ],
)
def test_base_url_forms(host, expected):
    assert normalize_base_url(host) == expected


def test_port_field_is_used_when_host_has_none():
    assert normalize_base_url("canvas.example.edu", port=8443) == "https://canvas.example.edu:8443"


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("canvas.example.edu", 443, "https://canvas.example.edu"),
        ("https://canvas.example.edu:443", None, "https://canvas.example.edu"),
        ("http://localhost", 80, "http://localhost"),
        ("http://localhost", 443, "http://localhost:443"),
    ],
)
def test_default_ports_are_left_out(host, port, expected):
    assert normalize_base_url(host, port=port) == expected


@pytest.mark.parametrize(
    ("host", "fragment"),
    [
        (None, "no host"),
        ("", "no host"),
        ("https://canvas.example.edu/canvas", "has a path"),
        ("https://canvas.example.edu/api/v2", "has a path"),
        ("http://canvas.example.edu", "plain http://"),
        ("ftp://canvas.example.edu", "not supported"),
        ("https://user:pw@canvas.example.edu", "credentials"),
        ("https://canvas.example.edu/?x=1", "query string"),
        ("https://canvas.example.edu:99999", "invalid port"),
        ("https://", "no host name"),
    ],
)
def test_bad_hosts_are_refused_with_the_fix(host, fragment):
    with pytest.raises(CanvasConfigurationError, match="canvas") as info:
        normalize_base_url(host)
    assert fragment in str(info.value)


def test_insecure_http_allowed_only_when_asked():
    assert (
        normalize_base_url("http://canvas.example.edu", allow_insecure_http=True)
        == "http://canvas.example.edu"
    )


def _parse(**overrides):
    values = {
        "conn_id": "canvas_default",
        "host": "https://c.example.edu",
        "password": "tok-12345",
        "extra": {},
    }
    values.update(overrides)
    return parse_connection(**values)


def test_defaults():
    settings = _parse()
    assert (settings.per_page, settings.timeout, settings.max_retries, settings.verify) == (
        100,
        30.0,
        5,
        True,
    )
    assert settings.allow_insecure_http is False
    assert "tok-12345" not in repr(settings)


def test_extras_from_strings_are_coerced():
    settings = _parse(
        extra={
            "per_page": "50",
            "timeout": "12.5",
            "max_retries": "0",
            "verify": "false",
            "allow_insecure_http": "no",
        }
    )
    assert (settings.per_page, settings.timeout, settings.max_retries, settings.verify) == (
        50,
        12.5,
        0,
        False,
    )


def test_hostile_server_bounds_default_far_above_real_answers_and_can_be_set():
    settings = _parse()
    assert (settings.max_response_bytes, settings.max_pages, settings.max_retry_wait) == (
        16 * 1024**2,
        1000,
        300,
    )
    settings = _parse(extra={"max_response_bytes": "65536", "max_pages": "5", "max_retry_wait": "0"})
    assert (settings.max_response_bytes, settings.max_pages, settings.max_retry_wait) == (65536, 5, 0.0)


def test_verify_accepts_a_ca_bundle_path(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert _parse(extra={"verify": str(bundle)}).verify == str(bundle)


def test_unknown_extras_are_reported_not_used():
    settings = _parse(extra={"Authorization": "x", "per_page": 10})
    assert settings.ignored_extras == ("Authorization",)


def test_null_extras_mean_default():
    assert _parse(extra={"per_page": None, "timeout": ""}).per_page == 100


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"per_page": 0}, "per_page"),
        ({"per_page": 101}, "per_page"),
        ({"per_page": "ten"}, "per_page"),
        ({"per_page": 2.5}, "per_page"),
        ({"per_page": True}, "per_page"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": "soon"}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 100}, "max_retries"),
        ({"verify": "/no/such/bundle.pem"}, "verify"),
        ({"verify": 3}, "verify"),
        ({"allow_insecure_http": "maybe"}, "allow_insecure_http"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_response_bytes": 100}, "max_response_bytes"),
        ({"max_response_bytes": "big"}, "max_response_bytes"),
        ({"max_response_bytes": 2 * 1024**3}, "max_response_bytes"),
        ({"max_pages": 0}, "max_pages"),
        ({"max_pages": "all"}, "max_pages"),
        ({"max_retry_wait": -1}, "max_retry_wait"),
        ({"max_retry_wait": "nan"}, "max_retry_wait"),
        ({"max_retry_wait": 7200}, "max_retry_wait"),
        ({"max_retry_wait": True}, "max_retry_wait"),
    ],
)
def test_bad_extras_name_the_field(extra, field):
    with pytest.raises(
        CanvasConfigurationError, match=rf"^Connection 'canvas_default': '.+' \(extra {field}\)"
    ):
        _parse(extra=extra)


def test_messages_use_the_form_labels():
    with pytest.raises(CanvasConfigurationError) as info:
        _parse(extra={"timeout": 0})
    assert str(info.value) == (
        "Connection 'canvas_default': 'Timeout (seconds)' (extra timeout) must be at least 0.1 and at most "
        "3600 seconds; got 0."
    )


def test_every_extra_has_a_form_field_with_a_label():
    (connection,) = get_provider_info()["connection-types"]
    assert set(connection["conn-fields"]) == set(KNOWN_EXTRAS)
    assert all(field["label"] for field in connection["conn-fields"].values())


def test_without_a_connection_id_the_message_starts_with_the_problem():
    with pytest.raises(CanvasConfigurationError) as info:
        _parse(conn_id=None, extra={"verify": "maybe"})
    assert str(info.value) == (
        "'Verify TLS' (extra verify) must be true or false (for a private CA, set 'CA bundle path'); got 'maybe'."
    )
    with pytest.raises(CanvasConfigurationError, match=r"^No host"):
        _parse(conn_id=None, host="")


@pytest.mark.parametrize("timeout", [0.1, "0.5", 3600])
def test_timeout_range_is_the_forms(timeout):
    assert _parse(extra={"timeout": timeout}).timeout == float(timeout)


@pytest.mark.parametrize("timeout", [0, 0.05, -1, 3600.5])
def test_timeout_outside_the_forms_range_is_refused(timeout):
    with pytest.raises(CanvasConfigurationError, match=r"at least 0\.1 and at most 3600"):
        _parse(extra={"timeout": timeout})


@pytest.mark.parametrize("wait", [-1, "nan", "soon", True, 3601])
def test_max_retry_wait_outside_its_range_is_refused(wait):
    with pytest.raises(
        CanvasConfigurationError,
        match=r"\(extra max_retry_wait\) must be (at least 0 and at most 3600|a number)",
    ):
        _parse(extra={"max_retry_wait": wait})


def test_ca_bundle_is_what_requests_verify_against(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert _parse(extra={"ca_bundle": str(bundle)}).verify == str(bundle)
    assert _parse(extra={"ca_bundle": f" {bundle} ", "verify": "true"}).verify == str(bundle)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"ca_bundle": "ca.pem"}, "must be an absolute file path"),
        ({"ca_bundle": 5}, "must be an absolute file path"),
        ({"ca_bundle": "/no/such/ca.pem"}, "is not a file on this machine"),
        ({"ca_bundle": "/", "verify": "false"}, "is set but 'Verify TLS' (extra verify) is false"),
    ],
)
def test_bad_ca_bundle(extra, fragment):
    with pytest.raises(CanvasConfigurationError, match="'CA bundle path' \\(extra ca_bundle\\)") as info:
        _parse(extra=extra)
    assert fragment in str(info.value)


@pytest.mark.parametrize("password", [None, "", "   "])
def test_empty_token(password):
    with pytest.raises(CanvasConfigurationError, match="Access Token"):
        _parse(password=password)
