"""DELETE by id, by type and address, and the push-token deletion; plus the bounce-count reset route."""

from __future__ import annotations

import pytest

NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}


@pytest.fixture
def channel_id(api, students) -> int:
    return int(api.get(f"users/{students[0]}/communication_channels").json()[0]["id"])


def test_delete_by_id_soft_deletes_and_answers_200_with_retired(canvas, api, students, channel_id):
    response = api.delete(f"users/{students[0]}/communication_channels/{channel_id}")
    assert response.status_code == 200  # not 204
    body = response.json()
    assert body["id"] == channel_id
    assert body["workflow_state"] == "retired"
    assert body["address"] == "demo-student-1@example.edu"
    assert api.get(f"users/{students[0]}/communication_channels").json() == []
    [kept] = canvas.channels(students[0], include_retired=True)
    assert kept["workflow_state"] == "retired"


def test_repeat_delete_is_404(api, students, channel_id):
    path = f"users/{students[0]}/communication_channels/{channel_id}"
    assert api.delete(path).status_code == 200
    response = api.delete(path)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_user_deletes_own_channel_without_bounce_keys(canvas, api):
    [own] = api.get("users/self/communication_channels", token=canvas.user_token).json()
    body = api.delete(f"users/self/communication_channels/{own['id']}", token=canvas.user_token).json()
    assert body["workflow_state"] == "retired"
    assert "last_bounce_at" not in body


def test_delete_by_type_and_address_is_case_insensitive_and_percent_decoded(api, students):
    path = f"users/{students[0]}/communication_channels/email/DEMO-Student-1%40Example.edu"
    response = api.delete(path)
    assert response.status_code == 200
    assert response.json()["workflow_state"] == "retired"
    assert api.delete(path).status_code == 404


def test_plus_in_a_path_is_a_plus_not_a_space(canvas, api, students):
    assert api.delete(f"users/{students[1]}/communication_channels/sms/+15555550102").status_code == 200
    canvas.add_channel(students[1], "sms", "+15555550199")
    assert api.delete(f"users/{students[1]}/communication_channels/sms/%2B15555550199").status_code == 200
    canvas.add_channel(students[1], "sms", " 15555550100")
    assert api.delete(f"users/{students[1]}/communication_channels/sms/+15555550100").status_code == 404


def test_json_suffix_on_the_address_route_is_part_of_the_address(api, students, channel_id):
    address_path = f"users/{students[0]}/communication_channels/email/demo-student-1@example.edu.json"
    assert api.delete(address_path).status_code == 404
    assert api.delete(f"users/{students[0]}/communication_channels/{channel_id}.json").status_code == 200


def test_wrong_type_on_the_address_route_is_404(api, students):
    path = f"users/{students[0]}/communication_channels/sms/demo-student-1@example.edu"
    assert api.delete(path).status_code == 404


def test_channel_of_another_user_is_404(api, students, channel_id):
    assert api.delete(f"users/{students[1]}/communication_channels/{channel_id}").status_code == 404


def test_lookup_comes_before_permission(canvas, api, students, channel_id):
    other = f"users/{students[0]}/communication_channels"
    assert api.delete(f"{other}/{channel_id}", token=canvas.user_token).status_code == 401
    assert api.delete(f"{other}/999999", token=canvas.user_token).status_code == 404
    assert api.delete(f"{other}/not-a-number", token=canvas.user_token).status_code == 404


def test_anonymous_delete_is_401_unauthenticated(api, students, channel_id):
    response = api.delete(f"users/{students[0]}/communication_channels/{channel_id}", anonymous=True)
    assert response.status_code == 401
    assert response.json()["status"] == "unauthenticated"
    assert "WWW-Authenticate" in response.headers


def test_users_can_edit_comm_channels_false_blocks_own_delete(canvas, api):
    canvas.settings.users_can_edit_comm_channels = False
    [own] = api.get("users/self/communication_channels", token=canvas.user_token).json()
    response = api.delete(f"users/self/communication_channels/{own['id']}", token=canvas.user_token)
    assert response.status_code == 401


def test_sis_imported_channel_is_protected_by_edit_institution_email(canvas, api, students):
    sis = canvas.add_channel(students[0], "email", "official@example.edu", sis_imported=True)
    path = f"users/{students[0]}/communication_channels/{sis['id']}"
    canvas.settings.edit_institution_email = False
    assert api.delete(path).status_code == 401
    canvas.settings.edit_institution_email = True
    assert api.delete(path).status_code == 200


def register_push(api, device_token: str) -> None:
    response = api.post(
        "users/self/communication_channels",
        data={"communication_channel[type]": "push", "communication_channel[token]": device_token},
    )
    assert response.status_code == 200


def test_delete_push_token_marks_matching_endpoints_deleted(canvas, api):
    register_push(api, "Device-One")
    register_push(api, "device-two")
    response = api.delete("users/self/communication_channels/push", params={"push_token": "DEVICE-ONE"})
    assert response.status_code == 200
    assert response.json() == {"success": True}
    states = {e["token"]: e["workflow_state"] for e in canvas.push_endpoints(canvas.admin_user_id)}
    assert states == {"Device-One": "deleted", "device-two": "active"}
    push = [c for c in canvas.channels(canvas.admin_user_id) if c["type"] == "push"]
    assert push[0]["workflow_state"] == "active"  # the push channel itself stays


def test_delete_push_token_in_form_body_and_unknown_token_still_succeeds(canvas, api):
    register_push(api, "device-three")
    response = api.delete(
        "users/self/communication_channels/push.json", data={"push_token": "no-such-device"}
    )
    assert response.json() == {"success": True}
    assert canvas.push_endpoints(canvas.admin_user_id)[0]["workflow_state"] == "active"


def test_delete_push_token_without_push_channel_is_404(canvas, api):
    response = api.delete(
        "users/self/communication_channels/push", params={"push_token": "x"}, token=canvas.user_token
    )
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_delete_push_token_missing_param_is_500_and_anonymous_is_401(api):
    register_push(api, "device-four")
    assert api.delete("users/self/communication_channels/push").status_code == 500
    assert api.delete("users/self/communication_channels/push", anonymous=True).status_code == 401


def test_numeric_user_push_path_reaches_destroy_and_404s(canvas, api):
    register_push(api, "device-five")
    response = api.delete(
        f"users/{canvas.admin_user_id}/communication_channels/push", params={"push_token": "x"}
    )
    assert response.status_code == 404
    assert canvas.push_endpoints(canvas.admin_user_id)[0]["workflow_state"] == "active"


def test_post_to_a_channel_is_bounce_reset_for_site_admins_only(canvas, api, students, channel_id):
    path = f"users/{students[0]}/communication_channels/{channel_id}"
    response = api.post(path)
    assert response.status_code == 200
    assert response.json()["id"] == channel_id
    account_admin = canvas.add_token(canvas.add_user("Account Admin"), account_admin=True)
    assert api.post(path, token=account_admin).status_code == 401
    assert api.post(f"users/{students[0]}/communication_channels/12345").status_code == 404
