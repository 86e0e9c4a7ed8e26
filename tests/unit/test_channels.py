from __future__ import annotations

import pytest

from airflow_provider_canvas.wire.channels import (
    address_key,
    find_channel,
    validate_address,
    validate_channel_type,
    validate_push_token,
)


@pytest.mark.parametrize(("given", "expected"), [("email", "email"), (" SMS ", "sms"), ("Push", "push")])
def test_channel_types(given, expected):
    assert validate_channel_type(given) == expected


@pytest.mark.parametrize("bad", ["fax", "", None, 3, "e-mail", "twitter"])
def test_unknown_channel_types(bad):
    with pytest.raises(ValueError, match="channel_type must be one of email, sms, push"):
        validate_channel_type(bad)


@pytest.mark.parametrize(
    "address", ["jane@example.edu", "Jane.Doe+tag@mail.example.co.uk", "x@y.z", " padded@example.edu "]
)
def test_plausible_emails(address):
    assert validate_address("email", address) == address.strip()


@pytest.mark.parametrize(
    "address",
    [
        "",
        "   ",
        "jane",
        "jane@",
        "@example.edu",
        "jane@example",
        "ja ne@example.edu",
        "a@b@c.edu",
        "jane@example..edu",
        "jane@exa/mple.edu",
        "x" * 250 + "@example.edu",
        "jane@exa\nmple.edu",
    ],
)
def test_implausible_emails(address):
    with pytest.raises(ValueError, match="address"):
        validate_address("email", address)


@pytest.mark.parametrize(
    "number", ["+15551234567", "5551234567", "(555) 123-4567", "5551234567@txt.example.com"]
)
def test_sms_numbers(number):
    assert validate_address("sms", number) == number


@pytest.mark.parametrize("number", ["555-CALL-NOW", "call me", "12", "+1555abc4567", "five"])
def test_sms_numbers_with_letters_or_too_short(number):
    with pytest.raises(ValueError, match="not an SMS number"):
        validate_address("sms", number)


@pytest.mark.parametrize("bad", [None, 12345, ["a@b.c"]])
def test_address_must_be_a_string(bad):
    with pytest.raises(ValueError, match="address"):
        validate_address("email", bad)


def test_push_token_required():
    with pytest.raises(ValueError, match="token is required for push"):
        validate_push_token(None)
    with pytest.raises(ValueError, match="push_token"):
        validate_push_token("  ", field="push_token")
    assert validate_push_token(" abc ") == "abc"


def test_matching_is_case_insensitive_and_ignores_retired_and_other_types():
    channels = [
        {"id": 1, "type": "email", "address": "Jane@Example.edu", "workflow_state": "retired"},
        {"id": 2, "type": "sms", "address": "jane@example.edu", "workflow_state": "active"},
        {"id": 3, "type": "email", "address": "JANE@example.EDU", "workflow_state": "unconfirmed"},
    ]
    assert find_channel(channels, "email", "jane@example.edu")["id"] == 3
    assert find_channel(channels, "email", "other@example.edu") is None
    assert address_key(" A@B.C ") == "a@b.c"
