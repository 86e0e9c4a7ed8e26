"""``--fault`` texts map onto the fake's own fault API: each one armed on a fake in this process, then met."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_canvas.testing import FakeCanvas
from airflow_provider_canvas.testing.fault_options import ALWAYS, FAULT_KINDS, FaultSpecError, parse_fault
from tests.conftest import REPO_ROOT


def arm(canvas: FakeCanvas, *specs: str) -> None:
    for spec in specs:
        parse_fault(spec).apply(canvas)


def test_body_faults_replace_the_answer_once(canvas, api):
    arm(canvas, "malformed-json", "empty-body,method=GET", "truncated-body,path=/users/self$")
    assert api.get("users/self").text == '{"id":1,"address":"trunc'
    assert api.get("users/self").content == b""
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.get("users/self")
    assert api.get("users/self").json()["name"] == "Site Admin"


def test_redirect_with_its_code(canvas, api):
    arm(canvas, "redirect=https://sso.example.edu/login,code=301")
    answer = api.get("users/self", allow_redirects=False)
    assert (answer.status_code, answer.headers["Location"]) == (301, "https://sso.example.edu/login")


@pytest.mark.parametrize("spec", ["reset", "reset,after-processing"])
def test_reset_drops_the_connection_and_after_processing_still_does_the_work(canvas, api, students, spec):
    arm(canvas, f"{spec},method=POST")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.create(students[0], "reset@example.edu")
    done = [c["address"] for c in canvas.channels(students[0])]
    assert ("reset@example.edu" in done) is spec.endswith("after-processing")


def test_stall_holds_then_closes(canvas, api):
    arm(canvas, "stall=0.5")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get("users/self", timeout=5)
    assert canvas.requests[-1].duration >= 0.5


def test_link_faults_arm_for_the_list_page(canvas, api, students):
    arm(canvas, "link-loop", "foreign-next=http://127.0.0.9:1", "downgrade-next")
    api.get("users/self")  # not a list: the link faults wait for one
    links = [
        api.get(f"users/{students[1]}/communication_channels", params={"per_page": 1}).links["next"]["url"]
    ]
    links += [
        api.get(f"users/{students[1]}/communication_channels", params={"per_page": 1}).links["next"]["url"]
    ]
    links += [
        api.get(f"users/{students[1]}/communication_channels", params={"per_page": 1}).links["next"]["url"]
    ]
    assert "page=1" in links[0]
    assert links[1].startswith("http://127.0.0.9:1/")
    assert links[2].startswith("https://127.0.0.1:")


def test_times_always_and_the_order_faults_were_given_in(canvas, api):
    arm(canvas, "status=500,times=2,method=GET", "status=502,times=always")
    assert [api.get("users/self").status_code for _ in range(5)] == [500, 500, 502, 502, 502]
    assert canvas.stats.faults == 5
    assert ALWAYS > 10**15


def test_every_kind_parses_with_its_example_and_is_documented():
    examples = {
        "status": "status=503",
        "throttle": "throttle",
        "reset": "reset",
        "stall": "stall=30",
        "latency": "latency=1.5,times=always",
        "malformed-json": "malformed-json",
        "truncated-body": "truncated-body",
        "empty-body": "empty-body",
        "redirect": "redirect=https://sso.example.edu/login",
        "link-loop": "link-loop",
        "foreign-next": "foreign-next",
        "downgrade-next": "downgrade-next",
        "throttle-harder": "throttle-harder=4",
        "random": "random=0.05,seed=7",
    }
    assert set(examples) == set(FAULT_KINDS)
    for spec in examples.values():
        assert parse_fault(spec).text == spec
    guide = (REPO_ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    undocumented = [kind for kind in FAULT_KINDS if f"`{kind}" not in guide]
    assert undocumented == [], "document these --fault kinds in docs/testing.md"


@pytest.mark.parametrize("spec", ["", ",times=2", "status=503,,times=2", "status=503,times=2,times=3"])
def test_malformed_texts(spec):
    with pytest.raises(FaultSpecError):
        parse_fault(spec)
