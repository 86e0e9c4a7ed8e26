"""Each fault kind, the arming filters, random faults and latency."""

from __future__ import annotations

import json
import time

import pytest
import requests

from airflow_provider_canvas.testing import Fault

LIST = "users/self/communication_channels"


def test_status_500_default_body_and_no_side_effect(canvas, api):
    canvas.inject(Fault.status(500))
    response = api.create(canvas.user_user_id, "never@example.edu")
    assert response.status_code == 500
    assert response.json()["errors"] == [
        {"message": "An error occurred.", "error_code": "internal_server_error"}
    ]
    assert isinstance(response.json()["error_report_id"], int)
    assert [c["address"] for c in canvas.channels(canvas.user_user_id)] == ["user@example.edu"]


@pytest.mark.parametrize("code", [502, 503, 504])
def test_gateway_errors_are_html_like_a_proxy(canvas, api, code):
    canvas.inject(Fault.status(code))
    response = api.get(LIST)
    assert response.status_code == code
    assert response.headers["Content-Type"] == "text/html"
    assert f"<h1>{code} " in response.text


@pytest.mark.parametrize(
    ("code", "text"),
    [(403, "403 Forbidden (Rate Limit Exceeded)\n"), (429, "429 Too Many Requests (Rate Limit Exceeded)\n")],
)
def test_status_403_and_429_default_to_the_throttle_text(canvas, api, code, text):
    canvas.inject(Fault.status(code))
    response = api.get(LIST)
    assert (response.status_code, response.text) == (code, text)


def test_status_with_custom_body_headers_and_content_type(canvas, api):
    canvas.inject(Fault.status(503, body="down", headers={"Retry-After": "7"}, content_type="text/plain"))
    response = api.get(LIST)
    assert (response.status_code, response.text, response.headers["Retry-After"]) == (503, "down", "7")
    assert response.headers["Content-Type"] == "text/plain"
    assert api.get(LIST).status_code == 200  # times=1


def test_throttle_fault_looks_like_a_full_bucket(canvas, api):
    canvas.inject(Fault.throttle())
    response = api.get(LIST)
    assert response.status_code == 403
    assert response.text == "403 Forbidden (Rate Limit Exceeded)\n"
    assert "X-Rate-Limit-Remaining" in response.headers
    assert "X-Request-Cost" not in response.headers
    assert canvas.requests[-1].throttled
    canvas.throttle.throttle_status = 429
    canvas.inject(Fault.throttle())
    assert api.get(LIST).status_code == 429


def test_reset_drops_the_connection_without_running_the_app(canvas, api):
    canvas.inject(Fault.reset(), method="POST")
    with pytest.raises(requests.ConnectionError):
        api.create(canvas.user_user_id, "lost@example.edu")
    assert len(canvas.channels(canvas.user_user_id)) == 1
    assert canvas.requests[-1].status is None
    assert api.get(LIST).status_code == 200  # the client reconnects


def test_reset_after_processing_is_an_ambiguous_failure(canvas, api):
    canvas.inject(Fault.reset(after_processing=True), method="POST")
    with pytest.raises(requests.ConnectionError):
        api.create(canvas.user_user_id, "happened@example.edu")
    assert "happened@example.edu" in [c["address"] for c in canvas.channels(canvas.user_user_id)]
    assert (
        api.create(canvas.user_user_id, "happened@example.edu").status_code == 400
    )  # the retry sees unique!


def test_stall_outlasts_the_client_timeout_and_does_nothing(canvas, api):
    canvas.inject(Fault.stall(1.0), method="POST")
    with pytest.raises(requests.Timeout):
        api.create(canvas.user_user_id, "stalled@example.edu", timeout=0.2)
    canvas.stop()  # wakes the stalled request, which must then give up without running the app
    assert len(canvas.channels(canvas.user_user_id)) == 1
    assert canvas.requests[-1].status is None


def test_stall_after_processing_creates_then_times_out(canvas, api):
    canvas.inject(Fault.stall(1.0, after_processing=True), method="POST")
    with pytest.raises(requests.Timeout):
        api.create(canvas.user_user_id, "slow-ack@example.edu", timeout=0.2)
    assert "slow-ack@example.edu" in [c["address"] for c in canvas.channels(canvas.user_user_id)]


def test_stall_with_respond_is_a_slow_normal_answer(canvas, api):
    canvas.inject(Fault.stall(0.3, respond=True))
    started = time.perf_counter()
    response = api.get(LIST)
    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_malformed_json(canvas, api):
    canvas.inject(Fault.malformed_json())
    response = api.get(LIST)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_truncated_body_fails_the_read(canvas, api):
    canvas.inject(Fault.truncated_body())
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.get(LIST)
    assert api.get(LIST).status_code == 200


def test_empty_body(canvas, api):
    canvas.inject(Fault.empty_body())
    response = api.get(LIST)
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["Content-Length"] == "0"


def test_redirect(canvas, api):
    canvas.inject(Fault.redirect("https://sso.example.edu/login"))
    response = api.get(LIST, allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://sso.example.edu/login"


def _links(response: requests.Response) -> dict[str, str]:
    return {rel: link["url"] for rel, link in response.links.items()}


def test_link_loop_points_next_at_the_same_page(canvas, api):
    canvas.add_channel(canvas.admin_user_id, "email", "second@example.edu")
    canvas.inject(Fault.link_loop())
    links = _links(api.get(f"{LIST}?per_page=1"))
    assert links["next"] == links["current"]
    assert _links(api.get(f"{LIST}?per_page=1"))["next"].endswith("page=2&per_page=1")


def test_foreign_next_default_and_custom_host(canvas, api):
    canvas.inject(Fault.foreign_next())
    links = _links(api.get(LIST))  # a single page: next is synthesised
    assert links["next"].startswith(
        f"http://127.0.0.2:{canvas.port}/api/v1/users/self/communication_channels?"
    )
    assert links["next"].endswith("page=2&per_page=10")
    canvas.inject(Fault.foreign_next("https://evil.example.com"))
    assert _links(api.get(LIST))["next"].startswith("https://evil.example.com/api/v1/")


def test_downgrade_next_flips_the_scheme_only(canvas, api):
    canvas.inject(Fault.downgrade_next())
    canvas.add_channel(canvas.admin_user_id, "email", "second@example.edu")
    links = _links(api.get(f"{LIST}?per_page=1"))
    assert links["next"] == links["current"].replace("http://", "https://").replace("page=1&", "page=2&")


def test_link_faults_still_perform_the_listing(canvas, api):
    canvas.inject(Fault.link_loop())
    assert api.get(LIST).json()[0]["address"] == "admin@example.edu"


def test_filters_by_method_and_path_and_times(canvas, api):
    canvas.inject(Fault.status(503), times=2, method="POST", path=r"/users/\d+/communication_channels$")
    assert api.get(LIST).status_code == 200
    assert api.create("self", "a@example.edu").status_code == 200  # "self" does not match \d+
    assert api.create(canvas.user_user_id, "b@example.edu").status_code == 503
    assert api.create(canvas.user_user_id, "c@example.edu").status_code == 503
    assert api.create(canvas.user_user_id, "d@example.edu").status_code == 200
    assert [r.fault for r in canvas.requests[-3:]] == ["status", "status", None]


def test_clear_faults(canvas, api):
    canvas.inject(Fault.status(500), times=5)
    canvas.clear_faults()
    assert api.get(LIST).status_code == 200


def test_random_faults_follow_the_rate_and_seed(canvas, api):
    canvas.inject_random(rate=1.0, faults=[Fault.status(502), Fault.status(504)], seed=7)
    assert {api.get(LIST).status_code for _ in range(10)} <= {502, 504}
    canvas.inject_random(rate=0.3, seed=1, faults=[Fault.status(500)])
    statuses = [api.get(LIST).status_code for _ in range(100)]
    assert 10 < statuses.count(500) < 60
    assert canvas.stats.faults >= statuses.count(500)
    canvas.inject_random(rate=0.0)
    assert {api.get(LIST).status_code for _ in range(10)} == {200}


def test_armed_faults_win_over_random_ones(canvas, api):
    canvas.inject_random(rate=1.0, faults=[Fault.status(502)])
    canvas.inject(Fault.status(418))
    assert api.get(LIST).status_code == 418
    assert api.get(LIST).status_code == 502


def test_latency_is_spent_on_every_request(canvas, api):
    canvas.latency = 0.2
    started = time.perf_counter()
    assert api.get(LIST).status_code == 200
    assert time.perf_counter() - started >= 0.2
    assert canvas.requests[-1].duration >= 0.2
    canvas.latency = 0.0
    started = time.perf_counter()
    api.get(LIST)
    assert time.perf_counter() - started < 0.2


def test_fault_arguments_are_validated(canvas):
    with pytest.raises(ValueError, match="times"):
        canvas.inject(Fault.status(500), times=0)
    with pytest.raises(ValueError, match="rate"):
        canvas.inject_random(rate=2.0)
