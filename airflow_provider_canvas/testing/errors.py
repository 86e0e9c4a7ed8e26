"""Canvas's error bodies, byte for byte where the behaviour document pins them.

Canvas uses several incompatible error shapes on these endpoints (behaviour document §5, §6). Clients must
cope with all of them, so the fake reproduces each one instead of inventing a uniform shape.
"""

from __future__ import annotations

import itertools
from http import HTTPStatus

from .messages import Response, json_response, text_response

WWW_AUTHENTICATE = ("WWW-Authenticate", 'Bearer realm="canvas-lms"')
NOT_FOUND_MESSAGE = "The specified resource does not exist."

_error_report_ids = itertools.count(1001)


class ApiError(Exception):
    """Raised anywhere in request handling to answer with a Canvas error response."""

    def __init__(self, status: int, body: object, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = list(headers or [])

    def response(self) -> Response:
        return json_response(self.status, self.body, self.headers)


def not_found() -> ApiError:
    """ActiveRecord::RecordNotFound, and also what the fake answers for an unknown route."""
    return ApiError(404, {"errors": [{"message": NOT_FOUND_MESSAGE}]})


def bad_page() -> ApiError:
    """Folio::InvalidPage for a page number that is not a positive integer (derived)."""
    return ApiError(404, {"errors": [{"message": "An error occurred.", "error_code": "not_found"}]})


def unauthenticated() -> ApiError:
    return ApiError(
        401,
        {"status": "unauthenticated", "errors": [{"message": "user authorization required"}]},
        [WWW_AUTHENTICATE],
    )


def invalid_token() -> ApiError:
    return ApiError(401, {"errors": [{"message": "Invalid access token."}]}, [WWW_AUTHENTICATE])


def unauthorized(*, auth_error_updates: bool) -> ApiError:
    """Authenticated but not permitted: 401 by default, 403 with the ``api_auth_error_updates`` flag."""
    return ApiError(
        403 if auth_error_updates else 401,
        {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]},
    )


def model_errors(errors: dict[str, list[str]]) -> ApiError:
    """``record.errors.as_json``: each error's ``type`` and ``message`` are the same string."""
    return ApiError(
        400,
        {
            "errors": {
                attribute: [{"attribute": attribute, "type": kind, "message": kind} for kind in kinds]
                for attribute, kinds in errors.items()
            }
        },
    )


def type_error(message: str) -> ApiError:
    """The controller's ad-hoc shape: a bare string under ``errors.type``, not a list."""
    return ApiError(400, {"errors": {"type": message}})


def generic_error(status: int) -> ApiError:
    code = _snake_status(status)
    return ApiError(status, {"errors": [{"message": "An error occurred.", "error_code": code}]})


def internal_error() -> ApiError:
    body = {
        "errors": [{"message": "An error occurred.", "error_code": "internal_server_error"}],
        "error_report_id": next(_error_report_ids),
    }
    return ApiError(500, body)


def throttle_response(status: int = 403) -> Response:
    """RequestThrottle#rate_limit_exceeded: plain text, no Retry-After.

    Canvas only ever sends 403. For the 429 mode (what the current public docs describe) the same Rack formula
    is used, so the body reads ``429 Too Many Requests (Rate Limit Exceeded)``.
    """
    return text_response(status, f"{status} {_reason(status)} (Rate Limit Exceeded)\n")


def proxy_error_response(status: int) -> Response:
    """What a load balancer in front of Canvas answers for 502/503/504: HTML, not JSON."""
    title = f"{status} {_reason(status)}"
    html = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
    return text_response(status, html + "</body>\r\n</html>\r\n", "text/html")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _snake_status(status: int) -> str:
    return _reason(status).lower().replace(" ", "_").replace("-", "_").replace("'", "")
