"""An independent client, ucfopen's canvasapi, talks to the fake: lists over pages, creates and deletes."""

from __future__ import annotations

import pytest

canvasapi = pytest.importorskip("canvasapi")

# The fake serves plain http on loopback; canvasapi warns about any http:// URL.
pytestmark = pytest.mark.filterwarnings("ignore:Canvas may respond unexpectedly:UserWarning")


def test_canvasapi_creates_and_deletes(canvas):
    client = canvasapi.Canvas(canvas.base_url, canvas.admin_token)
    user = client.get_user(canvas.user_user_id)
    assert user.name == "Plain User"
    created = user.create_communication_channel(
        communication_channel={"type": "email", "address": "from-canvasapi@example.edu"},
        skip_confirmation=True,
    )
    assert created.workflow_state == "active"
    assert created.user_id == canvas.user_user_id
    assert str(created) == f"from-canvasapi@example.edu ({created.id})"

    # canvasapi expects "deleted"; Canvas (and the fake) answer "retired", so canvasapi reports False.
    assert created.delete() is False
    [retired] = [
        c for c in canvas.channels(canvas.user_user_id, include_retired=True) if c["id"] == created.id
    ]
    assert retired["workflow_state"] == "retired"
    with pytest.raises(canvasapi.exceptions.ResourceDoesNotExist):
        created.delete()


def test_canvasapi_follows_next_links_over_pages(canvas):
    for i in range(119):  # 120 channels: canvasapi always asks for 100 per page, so two pages
        canvas.add_channel(canvas.user_user_id, "email", f"listed{i}@example.edu")
    user = canvasapi.Canvas(canvas.base_url, canvas.admin_token).get_user(canvas.user_user_id)
    canvas.clear_requests()
    listed = list(user.get_communication_channels())
    assert [c.address for c in listed] == [c["address"] for c in canvas.channels(canvas.user_user_id)]
    assert len(listed) == 120
    assert [r.query.get("page") for r in canvas.requests] == [None, "2"]


def test_canvasapi_error_mapping_matches_real_canvas(canvas):
    client = canvasapi.Canvas(canvas.base_url, "wrong-token-wrong-token")
    with pytest.raises(canvasapi.exceptions.InvalidAccessToken):
        client.get_user("self")
    # 401 without WWW-Authenticate: canvasapi tells "forbidden" apart from "bad token" by that header
    as_user = canvasapi.Canvas(canvas.base_url, canvas.user_token)
    with pytest.raises(canvasapi.exceptions.Unauthorized):
        as_user.get_user(canvas.admin_user_id)
