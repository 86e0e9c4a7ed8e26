"""POST /users/:user_id/communication_channels, in Canvas's order of evaluation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from airflow_provider_canvas.testing import FakeCanvas

UNIQUE = {"errors": {"path": [{"attribute": "path", "type": "unique!", "message": "unique!"}]}}


def test_site_admin_create_with_skip_confirmation_is_active_and_appended(canvas, api, students):
    response = api.create(students[1], "New.Address@example.edu")
    assert response.status_code == 200  # not 201
    created = response.json()
    assert created["workflow_state"] == "active"
    assert created["position"] == 3
    assert created["address"] == "New.Address@example.edu"
    assert created["type"] == "email"
    assert created["user_id"] == students[1]
    assert created["last_bounce_at"] is None  # site admins see bounce keys
    assert canvas.channels(students[1])[-1] == {k: v for k, v in created.items() if not k.startswith("last_")}


def test_new_channel_without_skip_is_unconfirmed(canvas, api, students):
    created = api.create(students[0], "pending@example.edu", skip=False).json()
    assert created["workflow_state"] == "unconfirmed"


def test_plain_user_skip_confirmation_is_silently_ignored(canvas, api):
    response = api.create("self", "mine@example.edu", token=canvas.user_token)
    assert response.status_code == 200
    created = response.json()
    assert created["workflow_state"] == "unconfirmed"
    assert "last_bounce_at" not in created


def test_account_admin_may_skip_confirmation_but_sees_no_bounce_keys(canvas, api, students):
    token = canvas.add_token(canvas.add_user("Account Admin"), account_admin=True)
    created = api.create(students[0], "by-account-admin@example.edu", token=token).json()
    assert created["workflow_state"] == "active"
    assert "last_bounce_at" not in created


def test_plain_user_cannot_create_for_someone_else(canvas, api, students):
    response = api.create(students[0], "intruder@example.edu", token=canvas.user_token)
    assert response.status_code == 401
    assert response.json()["status"] == "unauthorized"
    assert len(canvas.channels(students[0])) == 1


def test_users_can_edit_comm_channels_false_blocks_users_not_admins(canvas, api):
    canvas.settings.users_can_edit_comm_channels = False
    assert api.create("self", "blocked@example.edu", token=canvas.user_token).status_code == 401
    assert api.create(canvas.user_user_id, "admin-may@example.edu").status_code == 200


def test_anonymous_create_is_401_unauthenticated(canvas, api):
    response = api.create(canvas.user_user_id, "anon@example.edu", anonymous=True)
    assert response.status_code == 401
    assert response.json()["status"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="canvas-lms"'


def test_duplicate_is_case_insensitive_for_active_and_unconfirmed(canvas, api, students):
    response = api.create(students[0], "DEMO-STUDENT-1@example.edu")
    assert response.status_code == 400
    assert response.json() == UNIQUE
    api.create(students[0], "pending@example.edu", skip=False)
    assert api.create(students[0], "Pending@Example.edu").json() == UNIQUE
    assert canvas.channels(students[0])[0]["address"] == "demo-student-1@example.edu"  # casing untouched


def test_same_address_other_type_or_other_user_is_allowed(canvas, api, students):
    assert api.create(students[0], "demo-student-1@example.edu", "sms").status_code == 200
    assert api.create(students[1], "demo-student-1@example.edu").status_code == 200


def test_retired_address_is_restored_with_same_id_and_new_casing(canvas, api, students):
    original = api.create(students[0], "comeback@example.edu").json()
    api.delete(f"users/{students[0]}/communication_channels/{original['id']}")
    restored = api.create(students[0], "ComeBack@Example.EDU", skip=False).json()
    assert restored["id"] == original["id"]
    assert restored["position"] == original["position"]
    assert restored["address"] == "ComeBack@Example.EDU"
    assert restored["workflow_state"] == "unconfirmed"


def test_invalid_email_is_a_model_error_on_email(api, students):
    response = api.create(students[0], "not an email")
    assert response.status_code == 400
    assert response.json() == {
        "errors": {"email": [{"attribute": "email", "type": "invalid", "message": "invalid"}]}
    }


def test_missing_type_and_missing_address(api, students):
    response = api.post(
        f"users/{students[0]}/communication_channels",
        data={"communication_channel[address]": "x@example.edu"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": {"path_type": [{"attribute": "path_type", "type": "blank", "message": "blank"}]}
    }
    response = api.post(
        f"users/{students[0]}/communication_channels", data={"communication_channel[type]": "email"}
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"path", "email"}


def test_unknown_type_is_stored_as_email_without_validation(canvas, api, students):
    response = api.create(students[0], "not validated", "fax")
    assert response.status_code == 200
    assert response.json()["type"] == "email"
    assert response.json()["address"] == "not validated"


def test_sms_addresses_are_not_validated(api, students):
    response = api.create(students[0], "+1 (555) 000-1234", "sms")
    assert response.status_code == 200
    assert response.json()["type"] == "sms"


def test_missing_communication_channel_is_a_500(api, students):
    response = api.post(f"users/{students[0]}/communication_channels", data={"skip_confirmation": "1"})
    assert response.status_code == 500
    body = response.json()
    assert body["errors"] == [{"message": "An error occurred.", "error_code": "internal_server_error"}]
    assert isinstance(body["error_report_id"], int)


def test_json_body_is_accepted(canvas, api, students):
    response = api.post(
        f"users/{students[0]}/communication_channels",
        json={
            "communication_channel": {"address": "json@example.edu", "type": "email"},
            "skip_confirmation": True,
        },
    )
    assert response.status_code == 200
    assert response.json()["workflow_state"] == "active"


def test_access_token_as_query_or_form_parameter(canvas, api):
    path = f"users/{canvas.user_user_id}/communication_channels"
    by_query = api.post(
        path,
        anonymous=True,
        params={"access_token": canvas.user_token},
        data={"communication_channel[address]": "q@example.edu", "communication_channel[type]": "email"},
    )
    assert by_query.status_code == 200
    by_form = api.post(
        path,
        anonymous=True,
        data={
            "access_token": canvas.user_token,
            "communication_channel[address]": "f@example.edu",
            "communication_channel[type]": "email",
        },
    )
    assert by_form.status_code == 200


def test_max_communication_channels_counts_the_calling_user(canvas, api, students):
    canvas.settings.max_communication_channels = 1
    # The admin owns one channel, so even creating for a student (who has one too) is refused.
    response = api.create(students[2], "over@example.edu")
    assert response.status_code == 400
    assert response.json() == {"errors": {"type": "Maximum number of communication channels reached"}}
    canvas.settings.max_communication_channels = 2
    assert api.create(students[1], "fits@example.edu").status_code == 200  # student 2 already has two


def test_hard_cap_counts_every_row_including_retired(canvas, api):
    user = canvas.add_user("Hoarder")
    for i in range(100):
        canvas.add_channel(user, "email", f"h{i}@example.edu", workflow_state="retired")
    # Canvas refuses only once the existing rows exceed 100, so a 101st row is still accepted.
    assert api.create(user, "h100@example.edu").status_code == 200
    response = api.create(user, "h101@example.edu")
    assert response.status_code == 400
    message = "user communication_channels limit exceeded"
    assert response.json() == {
        "errors": {"user_id": [{"attribute": "user_id", "type": message, "message": message}]}
    }


def test_push_needs_sns_on_the_developer_key(canvas, api):
    response = api.post(
        "users/self/communication_channels",
        token=canvas.user_token,
        data={"communication_channel[type]": "push", "communication_channel[token]": "device-1"},
    )
    assert response.status_code == 400
    assert response.json() == {"errors": {"type": "SNS is not configured for this developer key"}}


def test_push_channel_is_active_for_all_devices_and_endpoints_dedupe(canvas, api):
    def register(device_token: str) -> dict[str, object]:
        response = api.post(
            "users/self/communication_channels",
            data={
                "communication_channel[type]": "push",
                "communication_channel[address]": "ignored@example.edu",
                "communication_channel[token]": device_token,
            },
        )
        assert response.status_code == 200
        return dict(response.json())

    first = register("DEVICE-ABC")
    assert first["type"] == "push"
    assert first["address"] == "For All Devices"
    assert first["workflow_state"] == "active"
    second = register("device-abc")  # same device token, other case: no second endpoint, no unique! error
    assert second["id"] == first["id"]
    endpoints = canvas.push_endpoints(canvas.admin_user_id)
    assert [(e["token"], e["workflow_state"]) for e in endpoints] == [("DEVICE-ABC", "active")]
    register("device-xyz")
    assert len(canvas.push_endpoints(canvas.admin_user_id)) == 2


def test_concurrent_duplicate_creates_give_one_success(canvas, api, students):
    canvas.latency = 0.05

    def create(_: int) -> int:
        response = requests.post(
            api.url(f"users/{students[0]}/communication_channels"),
            headers={"Authorization": f"Bearer {canvas.admin_token}"},
            data={
                "communication_channel[address]": "race@example.edu",
                "communication_channel[type]": "email",
            },
            timeout=10,
        )
        return response.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(create, range(8)))
    assert sorted(statuses) == [200] + [400] * 7


def test_seed_demo_false_leaves_users_without_channels(api):
    with FakeCanvas(seed_demo=False) as bare:
        assert bare.all_channels() == []
        response = api.session.get(
            f"{bare.base_url}/api/v1/users/self/communication_channels",
            headers={"Authorization": f"Bearer {bare.user_token}"},
            timeout=10,
        )
    assert response.json() == []
