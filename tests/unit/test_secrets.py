"""Secret scrubbing of server-sent text (wire/secrets.py) and errors cut loose from their requests."""

from __future__ import annotations

import pickle
import traceback
from urllib.parse import quote, quote_plus

import pytest

from airflow_provider_canvas.exceptions import CanvasConnectionError, CanvasServerError
from airflow_provider_canvas.wire.errors import check_answer, parse_error_messages
from airflow_provider_canvas.wire.secrets import Redactor, redact_error

TOKEN = "7~AbCdEf/gh+IJ kl%mn"
PUSH = "device-Push.Token_42"


@pytest.mark.parametrize(
    "shown",
    [
        TOKEN,
        TOKEN.lower(),
        TOKEN.upper(),
        quote(TOKEN, safe=""),
        quote(TOKEN, safe="").lower(),
        quote_plus(TOKEN),
        quote(quote(TOKEN, safe=""), safe=""),  # encoded twice
        "".join(f"%{ord(c):02x}" for c in TOKEN),  # every character encoded, lower-case hex
        TOKEN[:5] + quote(TOKEN[5:], safe=""),  # partly encoded
    ],
)
def test_every_form_of_a_secret_is_replaced(shown):
    redact = Redactor([TOKEN])
    text = redact(f"Bearer {shown} was rejected")
    assert text == "Bearer *** was rejected"


def test_several_secrets_and_secrets_added_later():
    redact = Redactor([TOKEN])
    assert redact(PUSH) == PUSH
    redact.add(PUSH)
    assert redact(f"{PUSH} and {TOKEN.lower()}") == "*** and ***"
    assert "Push" not in repr(redact)


def test_a_secret_inside_another_is_replaced_whole():
    redact = Redactor(["abcdef", "abcdef-longer"])
    assert redact("x abcdef-longer y") == "x *** y"


def test_short_or_empty_values_are_not_treated_as_secrets():
    redact = Redactor(["", None, "abc"])
    assert redact("abc abc") == "abc abc"


def test_messages_are_scrubbed_before_they_are_clipped():
    """Clipping first would leave the first part of a long secret in the message."""
    secret = "S" * 280 + "-end-of-a-long-secret"
    body = '{"errors":[{"message":"' + "x" * 20 + secret + '"}]}'
    (message,) = parse_error_messages(body, redact=Redactor([secret]))
    assert "SSSSS" not in message and message == "x" * 20 + "***"


def test_json_escapes_cannot_hide_a_secret():
    body = '{"errors":[{"message":"token \\u0037~AbCdEf\\/gh+IJ kl%mn"}]}'
    assert parse_error_messages(body, redact=Redactor([TOKEN])) == ["token ***"]


def test_a_token_as_a_redirect_host_is_scrubbed_after_lower_casing():
    token = "SecretToken-1234abcd"
    with pytest.raises(Exception) as info:
        check_answer(
            status=302,
            headers={"Location": f"https://{token}.example.com/x"},
            body="",
            method="GET",
            url="https://canvas.example.edu/api/v1/users/self",
            redact=Redactor([token]),
        )
    assert token.lower() not in str(info.value).lower()
    assert "https://***.example.com:443" in str(info.value)


def test_redact_error_scrubs_every_field_and_forgets_the_request():
    class Request:
        headers = {"Authorization": f"Bearer {TOKEN}"}

    try:
        try:
            raise OSError(Request())
        except OSError:
            raise CanvasServerError(
                f"GET https://canvas.example.edu/api/v1/users/{TOKEN} failed",
                url=f"https://canvas.example.edu/api/v1/users/{quote(TOKEN, safe='')}",
                messages=[f"echo {TOKEN.upper()}"],
                attempts=2,
            ) from None
    except CanvasServerError as raised:
        error = raised
    assert error.__context__ is not None  # what `from None` leaves behind
    redact_error(error, Redactor([TOKEN]))
    assert error.__context__ is None and error.__cause__ is None
    shown = [
        str(error),
        repr(error),
        error.url or "",
        *error.messages,
        "".join(traceback.format_exception(error)),
    ]
    shown.append(pickle.dumps(error).decode("latin-1"))
    for text in shown:
        assert TOKEN.lower() not in text.lower() and quote(TOKEN, safe="") not in text
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_redact_error_also_cleans_other_exceptions():
    error = redact_error(ValueError(f"bad {TOKEN}", 3), Redactor([TOKEN]))
    assert error.args == ("bad ***", 3)
    assert isinstance(redact_error(CanvasConnectionError("x"), Redactor()), CanvasConnectionError)
