from __future__ import annotations

import pickle

import pytest

from airflow_provider_canvas.exceptions import (
    CanvasAuthenticationError,
    CanvasDuplicateChannelError,
    CanvasError,
    CanvasNotFoundError,
    CanvasPermissionError,
    CanvasRateLimitError,
    CanvasResponseError,
    CanvasServerError,
    CanvasValidationError,
)
from airflow_provider_canvas.wire.errors import (
    error_class_for,
    error_from_response,
    is_throttle,
    parse_error_messages,
)

THROTTLE_BODY = "403 Forbidden (Rate Limit Exceeded)\n"
DUPLICATE = '{"errors":{"path":[{"attribute":"path","type":"unique!","message":"unique!"}]}}'
AUTH = {"WWW-Authenticate": 'Bearer realm="canvas-lms"'}


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        (DUPLICATE, ["path: unique!"]),
        (
            '{"errors":{"email":[{"attribute":"email","type":"invalid","message":"invalid"}]}}',
            ["email: invalid"],
        ),
        (
            '{"errors":{"type":"Maximum number of communication channels reached"}}',
            ["Maximum number of communication channels reached"],
        ),
        ('{"errors":[{"message":"Invalid access token."}]}', ["Invalid access token."]),
        (
            '{"errors":[{"message":"An error occurred.","error_code":"internal_server_error"}],"error_report_id":7}',
            ["An error occurred."],
        ),
        (
            '{"status":"unauthenticated","errors":[{"message":"user authorization required"}]}',
            ["user authorization required"],
        ),
        ('{"errors":"Invalid as_user_id"}', ["Invalid as_user_id"]),
        ('{"errors":[{"message":"Expired access token.","expired_at":null}]}', ["Expired access token."]),
        (THROTTLE_BODY, ["403 Forbidden (Rate Limit Exceeded)"]),
        ("", []),
        ("{not json", ["{not json"]),
        ('{"message":"x"}', ["x"]),
    ],
)
def test_every_canvas_error_shape(body, messages):
    assert parse_error_messages(body, "application/json") == messages


def test_html_proxy_pages_are_not_echoed():
    assert parse_error_messages("<html><body>502 Bad Gateway</body></html>", "text/html") == []


def test_messages_are_clipped():
    (message,) = parse_error_messages('{"errors":[{"message":"' + "x" * 5000 + '"}]}')
    assert len(message) < 400


@pytest.mark.parametrize(
    ("status", "headers", "body", "cls"),
    [
        (401, AUTH, '{"errors":[{"message":"Invalid access token."}]}', CanvasAuthenticationError),
        (
            401,
            {},
            '{"status":"unauthorized","errors":[{"message":"user not authorized"}]}',
            CanvasPermissionError,
        ),
        (
            403,
            {},
            '{"status":"unauthorized","errors":[{"message":"user not authorized"}]}',
            CanvasPermissionError,
        ),
        (403, {"Content-Type": "text/plain"}, THROTTLE_BODY, CanvasRateLimitError),
        (429, {}, THROTTLE_BODY, CanvasRateLimitError),
        (404, {}, '{"errors":[{"message":"The specified resource does not exist."}]}', CanvasNotFoundError),
        (400, {}, DUPLICATE, CanvasDuplicateChannelError),
        (
            400,
            {},
            '{"errors":{"type":"SNS is not configured for this developer key"}}',
            CanvasValidationError,
        ),
        (500, {}, "{}", CanvasServerError),
        (503, {}, "", CanvasServerError),
        (302, {}, "", CanvasResponseError),
        (409, {}, "", CanvasError),
    ],
)
def test_classification(status, headers, body, cls):
    assert error_class_for(status, headers, body) is cls


def test_throttle_needs_the_marker_on_403():
    assert is_throttle(403, THROTTLE_BODY)
    assert is_throttle(429, "")
    assert not is_throttle(403, '{"status":"unauthorized"}')
    assert not is_throttle(401, THROTTLE_BODY)


def test_error_carries_fields_and_canvas_message():
    error = error_from_response(
        status=400,
        headers={},
        body=DUPLICATE,
        method="POST",
        url="https://c.example.edu/api/v1/users/1/communication_channels",
        attempts=2,
    )
    assert isinstance(error, CanvasDuplicateChannelError)
    assert isinstance(error, CanvasValidationError)
    assert error.status_code == 400
    assert error.method == "POST"
    assert error.messages == ["path: unique!"]
    assert "unique!" in str(error) and "after 2 attempts" in str(error)


def test_errors_survive_pickling():
    error = error_from_response(
        status=404, headers={}, body='{"errors":[{"message":"gone"}]}', method="GET", url="u"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is CanvasNotFoundError
    assert (copy.status_code, copy.messages, str(copy)) == (404, ["gone"], str(error))


def test_hint_for_auth_errors():
    error = error_from_response(status=401, headers=AUTH, body="{}", method="GET", url="u")
    assert "Access Token" in str(error)
