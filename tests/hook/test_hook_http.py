"""CanvasHook against the bundled fake Canvas over real loopback HTTP."""

from __future__ import annotations

import pytest

from airflow_provider_canvas.exceptions import (
    CanvasAuthenticationError,
    CanvasConnectionError,
    CanvasDuplicateChannelError,
    CanvasNotFoundError,
    CanvasPermissionError,
    CanvasRateLimitError,
    CanvasResponseError,
    CanvasServerError,
    CanvasValidationError,
)
from airflow_provider_canvas.testing import FakeCanvas, Fault


def _api_requests(canvas, method=None):
    return [r for r in canvas.requests if method is None or r.method == method]


def test_list_spans_pages_lazily_in_canvas_order(fake_canvas, make_hook):
    user = fake_canvas.add_user("Pager", sis_user_id="pager-1")
    addresses = [f"p{i}@example.edu" for i in range(7)]
    for address in addresses:
        fake_canvas.add_channel(user, "email", address)
    hook = make_hook(per_page=3)
    fake_canvas.clear_requests()

    channels = hook.iter_communication_channels(user)
    first = next(channels)
    assert first["address"] == "p0@example.edu"
    assert len(_api_requests(fake_canvas)) == 1  # lazy: page 2 not fetched yet
    rest = list(channels)
    assert [c["address"] for c in [first, *rest]] == addresses
    pages = _api_requests(fake_canvas, "GET")
    assert len(pages) == 3
    assert [r.query.get("page") for r in pages] == [None, "2", "3"]
    assert all(r.query.get("per_page") == "3" for r in pages)


def test_list_by_sis_id_and_self(fake_canvas, hook):
    user = fake_canvas.add_user("Sis Person", sis_user_id="A/B 1")
    fake_canvas.add_channel(user, "email", "sis@example.edu")
    assert [c["address"] for c in hook.list_communication_channels("sis_user_id:A/B 1")] == [
        "sis@example.edu"
    ]
    admin_channels = hook.list_communication_channels("self")
    assert all(c["user_id"] == fake_canvas.admin_user_id for c in admin_channels)


def test_create_then_duplicate_then_delete_by_id_and_repeat(fake_canvas, hook):
    user = fake_canvas.add_user("Creator")
    created = hook.create_communication_channel(user, channel_type="email", address="New@Example.edu")
    assert created["workflow_state"] == "unconfirmed"
    assert created["address"] == "New@Example.edu"
    assert created["type"] == "email"

    with pytest.raises(CanvasDuplicateChannelError) as dup:
        hook.create_communication_channel(user, channel_type="email", address="new@example.EDU")
    assert dup.value.status_code == 400
    assert "unique!" in str(dup.value)

    retired = hook.delete_communication_channel(user, created["id"])
    assert retired["workflow_state"] == "retired"
    assert retired["id"] == created["id"]
    with pytest.raises(CanvasNotFoundError) as gone:
        hook.delete_communication_channel(user, created["id"])
    assert "The specified resource does not exist." in gone.value.messages


def test_create_sends_canvas_form_fields_and_skip_confirmation(fake_canvas, hook):
    user = fake_canvas.add_user("Skipper")
    created = hook.create_communication_channel(
        user, channel_type="sms", address="+15551234567", skip_confirmation=True
    )
    assert created["workflow_state"] == "active"
    assert fake_canvas.channels(user)[0]["address"] == "+15551234567"


def test_delete_by_type_and_address_is_case_insensitive_and_encoded(fake_canvas, hook, captured_logs):
    user = fake_canvas.add_user("Deleter")
    fake_canvas.add_channel(user, "email", "Jane+Tag@Example.edu")
    retired = hook.delete_communication_channel(user, channel_type="email", address="jane+tag@example.edu")
    assert retired["workflow_state"] == "retired"
    assert fake_canvas.channels(user) == []
    info = "\n".join(captured_logs.messages("info")).lower()
    assert "communication_channels/email/<address> -> 200" in info
    assert "jane+tag" not in info  # the address is personal data: never logged at INFO
    with pytest.raises(CanvasNotFoundError):
        hook.delete_communication_channel(user, channel_type="email", address="jane+tag@example.edu")


def test_delete_push_token_uses_the_literal_self_route(fake_canvas, hook):
    created = hook.create_communication_channel(
        fake_canvas.admin_user_id, channel_type="push", token="device-token-ABCDEF"
    )
    assert created["type"] == "push"
    fake_canvas.clear_requests()
    assert hook.delete_push_token("device-token-abcdef") == {"success": True}
    (request,) = fake_canvas.requests
    assert (request.method, request.path) == ("DELETE", "/api/v1/users/self/communication_channels/push")
    assert "push_token" not in request.query  # sent in the body, not the URL
    assert all(
        e["workflow_state"] == "deleted" for e in fake_canvas.push_endpoints(fake_canvas.admin_user_id)
    )


def test_throttling_is_retried_and_counted(fake_canvas, hook, captured_logs):
    user = fake_canvas.add_user("Throttled")
    fake_canvas.inject(Fault.throttle(), times=2)
    assert hook.list_communication_channels(user) == []
    assert hook.rate_limit.throttled == 2
    assert hook.rate_limit.remaining is not None
    warnings = captured_logs.messages("warning")
    assert len([m for m in warnings if "throttled; retry" in m]) == 2


def test_429_mode_is_also_throttling(fake_canvas, make_hook):
    hook = make_hook(max_retries=1)
    fake_canvas.inject(Fault.status(429), times=5)
    with pytest.raises(CanvasRateLimitError) as info:
        hook.list_communication_channels("self")
    assert info.value.attempts == 2


def test_503_is_retried_then_succeeds(fake_canvas, hook):
    fake_canvas.inject(Fault.status(503), times=2)
    assert isinstance(hook.list_communication_channels("self"), list)


def test_5xx_that_outlives_retries(fake_canvas, make_hook):
    hook = make_hook(max_retries=2)
    fake_canvas.inject(Fault.status(500), times=10)
    with pytest.raises(CanvasServerError) as info:
        hook.list_communication_channels("self")
    assert info.value.attempts == 3
    assert "An error occurred." in info.value.messages


def test_validation_error_surfaces_canvas_message(fake_canvas, hook):
    fake_canvas.settings.max_communication_channels = 1
    with pytest.raises(CanvasValidationError, match="Maximum number of communication channels reached"):
        hook.create_communication_channel("self", channel_type="email", address="more@example.edu")


def test_invalid_token_is_an_authentication_error(fake_canvas, make_hook):
    hook = make_hook(token="not-a-real-token-xyz")
    with pytest.raises(CanvasAuthenticationError) as info:
        hook.list_communication_channels("self")
    assert info.value.status_code == 401
    assert "Invalid access token." in info.value.messages
    assert "not-a-real-token-xyz" not in str(info.value)


def test_plain_user_cannot_list_others(fake_canvas, make_hook):
    hook = make_hook(token=fake_canvas.user_token)
    with pytest.raises(CanvasPermissionError) as info:
        hook.list_communication_channels(fake_canvas.admin_user_id)
    assert "user not authorized to perform that action" in info.value.messages


def test_unknown_user_is_not_found(hook):
    with pytest.raises(CanvasNotFoundError):
        hook.list_communication_channels("sis_user_id:nobody-here")


def test_foreign_next_link_is_refused_and_never_contacted(fake_canvas, hook):
    with FakeCanvas(seed_demo=False) as other:
        fake_canvas.inject(Fault.foreign_next(host=other.base_url), times=1)
        with pytest.raises(CanvasResponseError, match="Refused to follow a pagination link"):
            hook.list_communication_channels("self")
        assert other.requests == []


def test_redirect_to_another_host_is_an_error_and_not_followed(fake_canvas, hook):
    with FakeCanvas(seed_demo=False) as other:
        fake_canvas.inject(Fault.redirect(other.base_url + "/api/v1/users/self"), times=1)
        with pytest.raises(CanvasResponseError, match="Redirects are not followed"):
            hook.request("GET", "users/self")
        assert other.requests == []


@pytest.mark.parametrize("looping_page", [1, 2])
def test_link_loop_is_an_error_not_a_short_list(fake_canvas, make_hook, looping_page):
    user = fake_canvas.add_user("Looper")
    for i in range(5):
        fake_canvas.add_channel(user, "email", f"l{i}@example.edu")
    hook = make_hook(per_page=2)
    fake_canvas.clear_requests()
    channels = hook.iter_communication_channels(user)
    seen = []
    if looping_page == 2:
        seen.append(next(channels)["address"])  # page 1 is read before the loop is armed
    fake_canvas.inject(Fault.link_loop(), times=1)
    with pytest.raises(CanvasResponseError, match="points back at a page already read"):
        seen.extend(c["address"] for c in channels)
    assert seen == [f"l{i}@example.edu" for i in range(2 * looping_page)]  # nothing twice, nothing skipped
    assert len(_api_requests(fake_canvas)) == looping_page


def test_stall_past_timeout_is_retried(fake_canvas, make_hook):
    hook = make_hook(timeout=0.5, max_retries=2)
    fake_canvas.inject(Fault.stall(2.0), times=1)
    assert isinstance(hook.list_communication_channels("self"), list)


def test_stall_that_outlives_retries_is_a_timeout_error(fake_canvas, make_hook):
    hook = make_hook(timeout=0.3, max_retries=1)
    fake_canvas.inject(Fault.stall(1.5), times=5)
    with pytest.raises(CanvasConnectionError, match="timed out"):
        hook.list_communication_channels("self")


def test_malformed_json_is_retried(fake_canvas, hook):
    fake_canvas.inject(Fault.malformed_json(), times=1)
    assert isinstance(hook.list_communication_channels("self"), list)


def test_create_retried_after_ambiguous_failure_returns_its_own_channel(fake_canvas, hook):
    user = fake_canvas.add_user("Ambiguous")
    fake_canvas.inject(Fault.reset(after_processing=True), times=1, method="POST")
    created = hook.create_communication_channel(user, channel_type="email", address="amb@example.edu")
    assert created["address"] == "amb@example.edu"
    assert len(fake_canvas.channels(user)) == 1
    assert len(_api_requests(fake_canvas, "POST")) == 2


def test_request_logging_and_user_agent(fake_canvas, hook, captured_logs):
    hook.request("GET", "users/self")
    (request,) = [r for r in fake_canvas.requests if r.path == "/api/v1/users/self"]
    assert request.headers.get("user-agent", "").startswith("airflow-provider-canvas/")
    (line,) = [m for m in captured_logs.messages("info") if "Canvas GET" in m]
    assert "Canvas GET /api/v1/users/self -> 200 in" in line
    assert any("rate limit: remaining=" in m for m in captured_logs.messages("debug"))


def test_token_never_in_logs_or_errors(fake_canvas, make_hook, captured_logs):
    hook = make_hook()
    hook.list_communication_channels("self")
    fake_canvas.inject(Fault.status(500), times=10)
    with pytest.raises(CanvasServerError) as info:
        make_hook(max_retries=1).list_communication_channels("self")
    assert captured_logs.messages("debug") and captured_logs.messages("warning")  # all levels were seen
    assert fake_canvas.admin_token not in captured_logs.text
    assert fake_canvas.admin_token not in str(info.value)
    assert fake_canvas.admin_token not in repr(info.value)


def test_test_connection_names_the_user(fake_canvas, hook):
    ok, message = hook.test_connection()
    assert ok, message
    assert "as " in message and str(fake_canvas.admin_user_id) in message


def test_test_connection_bad_token(fake_canvas, make_hook):
    ok, message = make_hook(token="wrong-token-123456").test_connection()
    assert not ok
    assert "rejected the access token" in message
    assert "wrong-token-123456" not in message


def test_test_connection_wrong_host(monkeypatch):
    from airflow_provider_canvas.hooks.canvas import CanvasHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_CANVAS_DEFAULT",
        '{"conn_type": "canvas", "host": "http://127.0.0.1:9", "password": "secret-token-98765",'
        ' "extra": {"timeout": 2}}',
    )
    ok, message = CanvasHook().test_connection()
    assert not ok
    assert "Could not reach Canvas" in message
    assert "secret-token-98765" not in message


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda h: h.create_communication_channel(1, channel_type="email", address="not-an-email"),
            "address",
        ),
        (lambda h: h.create_communication_channel(1, channel_type="fax", address="a@b.edu"), "channel_type"),
        (lambda h: h.create_communication_channel(1, channel_type="push"), "token is required"),
        (lambda h: h.create_communication_channel(1, channel_type="sms", address="555-CALL-NOW"), "SMS"),
        (
            lambda h: h.create_communication_channel(1, channel_type="email", address="a@b.edu", token="x"),
            "token",
        ),
        (
            lambda h: h.create_communication_channel(
                1, channel_type="email", address="a@b.edu", skip_confirmation="yes"
            ),
            "skip_confirmation",
        ),
        (
            lambda h: h.create_communication_channel(
                "1/../../accounts/1", channel_type="email", address="a@b.edu"
            ),
            "user_id",
        ),
        (lambda h: h.delete_communication_channel(1), "channel_id, or both"),
        (lambda h: h.delete_communication_channel(1, 5, address="a@b.edu"), "not both"),
        (lambda h: h.delete_communication_channel(1, channel_type="push", address="push"), "Push channels"),
        (lambda h: h.delete_communication_channel(1, "5x"), "channel_id"),
        (lambda h: h.delete_push_token(""), "push_token"),
        (lambda h: h.list_communication_channels("sis_user_id:x.json"), ".json"),
        (lambda h: h.request("GET", "https://evil.example/api/v1/users/self"), "endpoint"),
    ],
)
def test_local_errors_are_raised_before_any_request(fake_canvas, hook, call, message):
    hook.get_conn()  # connection read up front, so only the call itself could send something
    fake_canvas.clear_requests()
    with pytest.raises(ValueError, match=message):
        call(hook)
    assert fake_canvas.requests == []


def test_client_errors_are_not_retried(fake_canvas, hook):
    fake_canvas.clear_requests()
    with pytest.raises(CanvasNotFoundError):
        hook.list_communication_channels(999999)
    assert len(fake_canvas.requests) == 1


def test_scheme_downgrade_in_next_link_is_refused(fake_canvas, hook):
    fake_canvas.inject(Fault.downgrade_next(), times=1)
    with pytest.raises(CanvasResponseError, match="not the connection's origin"):
        hook.list_communication_channels("self")
    assert len(fake_canvas.requests) == 1


def test_unknown_extras_are_ignored_with_a_warning(fake_canvas, make_hook, captured_logs):
    hook = make_hook(Authorization="Basic abc", headers={"X": "1"})
    hook.request("GET", "users/self")
    (request,) = [r for r in fake_canvas.requests if r.path == "/api/v1/users/self"]
    assert request.headers["authorization"].startswith("Bearer ")
    assert "x" not in request.headers
    (warning,) = [m for m in captured_logs.messages("warning") if "ignoring unknown extra fields" in m]
    assert "Authorization, headers" in warning


def test_session_is_reused_and_configured_once(hook):
    assert hook.get_conn() is hook.get_conn()
    assert "tok" not in repr(hook.get_conn().auth)
