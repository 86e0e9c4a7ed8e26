"""GET /users/:user_id/communication_channels: visibility, JSON shape, pagination and Link headers."""

from __future__ import annotations

import pytest

from airflow_provider_canvas.testing import FakeCanvas

PLAIN_KEYS = {"id", "created_at", "address", "type", "position", "workflow_state", "user_id"}
BOUNCE_KEYS = {
    "last_bounce_at",
    "last_bounce_summary",
    "last_suppression_bounce_at",
    "last_transient_bounce_at",
    "last_transient_bounce_summary",
}
NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}
BAD_PAGE = {"errors": [{"message": "An error occurred.", "error_code": "not_found"}]}


def seed_channels(canvas: FakeCanvas, user_id: int, count: int) -> None:
    for i in range(count):
        canvas.add_channel(user_id, "email", f"extra{i}@example.edu")


def test_plain_user_sees_own_channels_without_bounce_keys(canvas, api):
    response = api.get("users/self/communication_channels", token=canvas.user_token)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    [channel] = response.json()
    assert set(channel) == PLAIN_KEYS
    assert channel["address"] == "user@example.edu"
    assert channel["user_id"] == canvas.user_user_id
    assert channel["workflow_state"] == "active"
    assert channel["created_at"].endswith("Z")
    assert isinstance(channel["id"], int)


def test_site_admin_gets_null_bounce_keys(canvas, api):
    [channel] = api.get(f"users/{canvas.user_user_id}/communication_channels").json()
    assert set(channel) == PLAIN_KEYS | BOUNCE_KEYS
    assert all(channel[key] is None for key in BOUNCE_KEYS)


def test_account_admin_reads_others_without_bounce_keys(canvas, api):
    token = canvas.add_token(canvas.add_user("Account Admin"), account_admin=True)
    [channel] = api.get(f"users/{canvas.user_user_id}/communication_channels", token=token).json()
    assert set(channel) == PLAIN_KEYS


def test_retired_channels_are_hidden_and_order_is_by_position(canvas, api, students):
    listed = api.get(f"users/{students[2]}/communication_channels").json()
    assert [c["address"] for c in listed] == ["demo-student-3@example.edu"]
    listed = api.get(f"users/{students[1]}/communication_channels").json()
    assert [(c["type"], c["position"], c["workflow_state"]) for c in listed] == [
        ("email", 1, "active"),
        ("sms", 2, "unconfirmed"),
    ]


def test_other_plain_user_gets_401_unauthorized_without_www_authenticate(canvas, api, students):
    response = api.get(f"users/{students[0]}/communication_channels", token=canvas.user_token)
    assert response.status_code == 401
    assert response.json() == {
        "status": "unauthorized",
        "errors": [{"message": "user not authorized to perform that action"}],
    }
    assert "WWW-Authenticate" not in response.headers


def test_auth_error_updates_flag_turns_forbidden_into_403(api, students):
    with FakeCanvas(auth_error_updates=True) as other:
        response = api.session.get(
            f"{other.base_url}/api/v1/users/{students[0]}/communication_channels",
            headers={"Authorization": f"Bearer {other.user_token}"},
            timeout=10,
        )
    assert response.status_code == 403
    assert response.json()["status"] == "unauthorized"


def test_anonymous_numeric_id_is_401_unauthenticated(canvas, api):
    response = api.get(f"users/{canvas.user_user_id}/communication_channels", anonymous=True)
    assert response.status_code == 401
    assert response.json() == {
        "status": "unauthenticated",
        "errors": [{"message": "user authorization required"}],
    }
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="canvas-lms"'


def test_anonymous_self_is_404_because_self_is_never_resolved(api):
    response = api.get("users/self/communication_channels", anonymous=True)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_invalid_token_is_401_on_every_route(api):
    for method, path in [
        ("GET", "users/self"),
        ("POST", "users/1/communication_channels"),
        ("DELETE", "users/1/communication_channels/1"),
    ]:
        response = api.request(method, path, token="not-a-real-token-at-all")
        assert response.status_code == 401
        assert response.json() == {"errors": [{"message": "Invalid access token."}]}
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="canvas-lms"'


def test_users_self_identifies_the_token_owner(canvas, api):
    me = api.get("users/self", token=canvas.user_token).json()
    assert me["id"] == canvas.user_user_id
    assert me["name"] == "Plain User"
    assert me["sortable_name"] == "User, Plain"
    assert "login_id" not in me  # only admins see logins
    admin_view = api.get(f"users/{canvas.user_user_id}").json()
    assert admin_view["login_id"] == "user@example.edu"


@pytest.mark.parametrize(
    "ref",
    [
        "sis_user_id:demo-student-2",
        "sis_login_id:DEMO-Student-2@Example.edu",
        "sis_integration_id:demo-int-2",
    ],
)
def test_sis_references_resolve(api, students, ref):
    listed = api.get(f"users/{ref}/communication_channels").json()
    assert {c["user_id"] for c in listed} == {students[1]}


def test_hex_encoded_sis_id_resolves(api, students):
    hex_id = b"demo-student-1".hex()
    listed = api.get(f"users/hex:sis_user_id:{hex_id}/communication_channels").json()
    assert listed[0]["user_id"] == students[0]


@pytest.mark.parametrize(
    "ref", ["sis_user_id:nobody", "uuid:abc", "lti_user_id:x", "bogus:1", "99999", "1" * 20, "sis_user_id:"]
)
def test_unknown_user_references_are_404(api, ref):
    response = api.get(f"users/{ref}/communication_channels")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_percent_encoded_slash_stays_inside_the_sis_id(canvas, api):
    user = canvas.add_user("Slashy", sis_user_id="a/b c")
    canvas.add_channel(user, "email", "slashy@example.edu")
    response = api.get("users/sis_user_id:a%2Fb%20c/communication_channels")
    assert response.status_code == 200
    assert response.json()[0]["user_id"] == user
    assert "/users/sis_user_id:a%2Fb%20c/communication_channels?" in response.headers["Link"]


def test_json_suffix_accepted_other_extensions_are_routing_404(canvas, api):
    assert api.get(f"users/{canvas.user_user_id}/communication_channels.json").status_code == 200
    assert api.get("users/self.json").json()["id"] == canvas.admin_user_id
    assert api.get(f"users/{canvas.user_user_id}/communication_channels.xml").status_code == 404
    assert api.get("users/sis_login_id:user@example.edu.json/communication_channels").status_code == 404


def test_unknown_routes_are_404(api):
    for path in ["nothing/here", "users/1/communication_channels/1/extra", "users"]:
        response = api.get(path)
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
    response = api.session.get(api.canvas.base_url + "/elsewhere", timeout=10)
    assert response.status_code == 404


def test_link_header_exact_for_single_page(canvas, api):
    response = api.get(f"users/{canvas.user_user_id}/communication_channels")
    base = f"{canvas.base_url}/api/v1/users/{canvas.user_user_id}/communication_channels"
    assert response.headers["Link"] == (
        f'<{base}?page=1&per_page=10>; rel="current",'
        f'<{base}?page=1&per_page=10>; rel="first",'
        f'<{base}?page=1&per_page=10>; rel="last"'
    )


def test_link_header_exact_for_two_pages(canvas, api):
    seed_channels(canvas, canvas.user_user_id, 2)  # 3 channels
    base = f"{canvas.base_url}/api/v1/users/self/communication_channels"
    first = api.get("users/self/communication_channels?per_page=2", token=canvas.user_token)
    assert [c["position"] for c in first.json()] == [1, 2]
    assert first.headers["Link"] == (
        f'<{base}?page=1&per_page=2>; rel="current",'
        f'<{base}?page=2&per_page=2>; rel="next",'
        f'<{base}?page=1&per_page=2>; rel="first",'
        f'<{base}?page=2&per_page=2>; rel="last"'
    )
    second = api.get("users/self/communication_channels?per_page=2&page=2", token=canvas.user_token)
    assert [c["position"] for c in second.json()] == [3]
    assert second.headers["Link"] == (
        f'<{base}?page=2&per_page=2>; rel="current",'
        f'<{base}?page=1&per_page=2>; rel="prev",'
        f'<{base}?page=1&per_page=2>; rel="first",'
        f'<{base}?page=2&per_page=2>; rel="last"'
    )


def test_link_header_middle_page_of_three_keeps_other_params_sorted(canvas, api):
    seed_channels(canvas, canvas.user_user_id, 4)  # 5 channels -> 3 pages of 2
    response = api.get(
        "users/self/communication_channels",
        token=canvas.user_token,
        params=[
            ("zeta", "last one"),
            ("page", "2"),
            ("per_page", "2"),
            ("access_token", "x"),
            ("alpha", "a&b"),
        ],
        headers={"Host": "canvas.example.test:8443"},
    )
    assert response.status_code == 200
    base = (
        "http://canvas.example.test:8443/api/v1/users/self/communication_channels?alpha=a%26b&zeta=last+one"
    )
    assert response.headers["Link"] == (
        f'<{base}&page=2&per_page=2>; rel="current",'
        f'<{base}&page=3&per_page=2>; rel="next",'
        f'<{base}&page=1&per_page=2>; rel="prev",'
        f'<{base}&page=1&per_page=2>; rel="first",'
        f'<{base}&page=3&per_page=2>; rel="last"'
    )


def test_following_next_links_visits_every_channel_once(canvas, api):
    seed_channels(canvas, canvas.user_user_id, 24)
    seen: list[int] = []
    url: str | None = api.url("users/self/communication_channels?per_page=7")
    while url:
        response = api.session.get(url, headers={"Authorization": f"Bearer {canvas.user_token}"}, timeout=10)
        seen.extend(c["id"] for c in response.json())
        url = response.links.get("next", {}).get("url")
    assert len(seen) == 25
    assert len(set(seen)) == 25


@pytest.mark.parametrize(
    ("raw", "expected"), [("1000", 100), ("100", 100), ("0", 1), ("-5", 1), ("abc", 1), ("5abc", 5), ("", 1)]
)
def test_per_page_is_clamped_like_ruby_to_i(canvas, api, raw, expected):
    seed_channels(canvas, canvas.user_user_id, 120)
    response = api.get(f"users/self/communication_channels?per_page={raw}", token=canvas.user_token)
    assert len(response.json()) == expected
    assert f"per_page={expected}>" in response.headers["Link"]


def test_per_page_max_is_configurable(api):
    with FakeCanvas(per_page_max=50) as small:
        seed_channels(small, small.user_user_id, 80)
        response = api.session.get(
            f"{small.base_url}/api/v1/users/self/communication_channels?per_page=100",
            headers={"Authorization": f"Bearer {small.user_token}"},
            timeout=10,
        )
    assert len(response.json()) == 50


def test_default_page_size_is_ten(canvas, api):
    seed_channels(canvas, canvas.user_user_id, 14)
    response = api.get("users/self/communication_channels", token=canvas.user_token)
    assert len(response.json()) == 10
    assert 'page=2&per_page=10>; rel="last"' in response.headers["Link"]


def test_page_past_the_end_is_empty_with_next_and_no_last(canvas, api):
    response = api.get("users/self/communication_channels?page=4&per_page=2", token=canvas.user_token)
    assert response.status_code == 200
    assert response.json() == []
    base = f"{canvas.base_url}/api/v1/users/self/communication_channels"
    # folio's synthetic page keeps its own default page size (30), not the requested one
    assert response.headers["Link"] == (
        f'<{base}?page=4&per_page=30>; rel="current",'
        f'<{base}?page=5&per_page=30>; rel="next",'
        f'<{base}?page=3&per_page=30>; rel="prev",'
        f'<{base}?page=1&per_page=30>; rel="first"'
    )


@pytest.mark.parametrize("raw", ["abc", "0", "-1", ""])
def test_bad_page_numbers_are_404(canvas, api, raw):
    response = api.get(f"users/self/communication_channels?page={raw}", token=canvas.user_token)
    assert response.status_code == 404
    assert response.json() == BAD_PAGE


def test_empty_collection_has_current_first_last_page_one(canvas, api):
    user = canvas.add_user("No Channels")
    response = api.get(f"users/{user}/communication_channels")
    assert response.json() == []
    assert [part.split("; ")[1] for part in response.headers["Link"].split(",")] == [
        'rel="current"',
        'rel="first"',
        'rel="last"',
    ]
    assert response.headers["Link"].count("page=1&per_page=10") == 3
