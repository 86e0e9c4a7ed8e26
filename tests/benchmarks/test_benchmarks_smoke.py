"""The benchmarks run end to end in their quick mode and report sane, well-formed results.

Nothing here asserts a timing: performance is measured by ``./dev bench``, never by unit tests. What is
asserted is structure and sanity (every user accounted for, our client losing no user to throttling while
the naive pool loses one per throttled answer, the sync's end state equal to the desired state), plus the
pure helpers. How often each is throttled is a performance figure: a 100-user run on a busy 2-core machine
can throttle our governor once or twice before its estimate settles, so that is left to ``./dev bench``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from benchmarks import cli, import_cost
from benchmarks.fake import Ceiling
from benchmarks.plot import Series, line_chart, stack
from benchmarks.report import Column, Section, Target, render
from benchmarks.sync import build_desired, end_state_matches

REPO_ROOT = Path(__file__).resolve().parents[2]
USERS = 100
LATENCY = 0.01


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks", "--quick", f"--users={USERS}", f"--latency={LATENCY}"),
            *("--only", "list,sync,shared", "--out", str(out)),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads((out / "results.json").read_text()), done.stdout


def test_quick_run_prints_a_table_per_section(quick_run):
    results, stdout = quick_run
    assert set(results["sections"]) == {"list", "sync", "shared"}
    assert results["config"] == {"users": USERS, "latency": LATENCY, "quick": True, "seed": cli.Config.seed}
    assert results["machine"]["usable_cpus"] >= 1
    for title in ("== list:", "== sync:", "vs sequential", "target throughput vs throttle ceiling"):
        assert title in stdout
    assert "Canvas list channels" not in stdout  # the hook's log lines go to stderr, not into the report


def test_quick_list_accounts_for_every_user_and_loses_none_to_throttling(quick_run):
    section = quick_run[0]["sections"]["list"]
    rows = {row["client"].split(":")[0].split(",")[0]: row for row in section["rows"]}
    assert set(rows) == {"requests.Session loop (baseline)", "canvasapi", "naive pool", "ours"}
    for row in rows.values():
        assert row["users"] == USERS
        assert row["ok"] + row["failures"] == USERS
        assert row["requests"] >= USERS  # at least one page per user, as the fake counted them
        assert row["wall"] > 0 and row["throughput"] > 0
    for sequential in (rows["requests.Session loop (baseline)"], rows["canvasapi"]):
        assert (sequential["max_in_flight"], sequential["throttled"], sequential["failures"]) == (1, 0, 0)
    ours, naive = rows["ours"], rows["naive pool"]
    assert ours["failures"] == 0
    assert ours["ok"] == USERS
    assert ours["requests"] == USERS + ours["throttled"]  # every throttled answer was retried, not lost
    assert naive["failures"] == naive["throttled"]  # no retries: each throttled answer loses a user
    assert 1 <= ours["max_in_flight"] <= 16  # the connection's default max_concurrency
    assert rows["requests.Session loop (baseline)"]["vs_sequential"] == pytest.approx(1.0)
    assert section["ceiling"]["in_flight"] == 12
    assert section["ceiling"]["requests_per_second"] == pytest.approx(min(12 / LATENCY, 10 / 0.01))
    assert {t["name"] for t in section["targets"]} >= {"throughput vs sequential", "failures"}
    assert all(isinstance(t["met"], bool) for t in section["targets"])


def test_quick_sync_reaches_the_desired_state(quick_run):
    section = quick_run[0]["sections"]["sync"]
    planned = section["planned"]
    assert planned["creates"] > 0 and planned["deletes"] > 0
    for row in section["rows"]:
        assert row["end_state_ok"] is True
        assert row["wrong_users"] == 0
        assert (row["created"], row["deleted"], row["failed"]) == (planned["creates"], planned["deletes"], 0)
    targets = {t["name"]: t["met"] for t in section["targets"]}
    assert targets["end state equals the desired state"] is True


def test_quick_shared_token_run_accounts_for_every_user_in_four_processes(quick_run):
    section = quick_run[0]["sections"]["shared"]
    reference, *processes, together = section["rows"]
    assert len(processes) == 4
    assert sum(row["users"] for row in processes) == together["users"] == reference["users"] == USERS
    assert sum(row["ok"] for row in processes) == together["ok"] == USERS
    assert together["failures"] == 0 and reference["failures"] == 0
    assert together["requests"] == USERS + together["throttled"]  # every throttled answer was retried
    assert sum(row["requests"] for row in processes) == together["requests"]  # the fake agrees
    assert 0 < together["wall"] <= max(row["wall"] for row in processes) + 1.0
    assert {t["name"] for t in section["targets"]} == {
        "together vs throttle ceiling",
        "throttled responses",
        "failures",
    }
    latency = quick_run[0]["config"]["latency"]
    in_bucket = section["seconds_in_bucket"]
    assert latency <= in_bucket["alone"] < latency + 1.0 and latency <= in_bucket["together"] < latency + 1.0


# ----- pure helpers -------------------------------------------------------------------------------------


def test_ceiling_is_the_lower_of_the_in_flight_and_cost_bounds():
    throttle = {"hwm": 600.0, "up_front_cost": 50.0, "outflow": 10.0, "cost": 0.01}
    ceiling = Ceiling.from_settings({"latency": 0.05, "throttle": throttle})
    assert (ceiling.in_flight, ceiling.in_flight_bound, ceiling.cost_bound) == (12, 240.0, 1000.0)
    assert ceiling.requests_per_second == 240.0
    expensive = Ceiling.from_settings({"latency": 0.05, "throttle": {**throttle, "cost": 0.5}})
    assert expensive.requests_per_second == 20.0  # the leak, not the bucket, limits expensive requests
    assert math.isinf(Ceiling.from_settings({"latency": 0.0, "throttle": throttle}).in_flight_bound)
    assert ceiling.at_duration(0.06) == pytest.approx(200.0)  # the bucket sees 60 ms, not the 50 ms latency
    assert expensive.at_duration(0.06) == 20.0


def test_desired_state_drops_two_and_adds_five_percent():
    users = list(range(10, 210))
    channels = [
        {"user_id": u, "type": "email", "workflow_state": "active", "address": f"u{u}.{k}@example.edu"}
        for u in users
        for k in (1, 2)
    ]
    scenario = build_desired(channels, users, seed=1)
    assert scenario.current == 400
    assert scenario.to_delete == 8
    desired_count = sum(len(a) for a in scenario.desired.values())
    assert scenario.to_create == round(0.05 * desired_count)
    assert all(scenario.desired[str(u)] for u in users)  # nobody loses every address
    assert build_desired(channels, users, seed=1) == scenario  # seeded: repeatable
    assert end_state_matches(channels, scenario.desired) == (
        False,
        len(scenario.desired)
        - sum(
            sorted(a.lower() for a in scenario.desired[str(u)])
            == [f"u{u}.1@example.edu", f"u{u}.2@example.edu"]
            for u in users
        ),
    )
    upper = [{**c, "address": str(c["address"]).upper()} for c in channels]
    exact = {str(u): [f"u{u}.1@example.edu", f"u{u}.2@example.edu"] for u in users}
    assert end_state_matches(upper, exact) == (True, 0)  # Canvas matches addresses case-insensitively
    retired = [{**channels[0], "workflow_state": "retired"}, *channels[1:]]
    assert end_state_matches(retired, exact) == (False, 1)


def test_importtime_breakdown_separates_outside_modules_from_ours():
    stderr = "\n".join(
        [
            "import time:       100 |        100 | airflow.sdk",
            import_cost.MARK,
            "import time:       300 |       2000 |     urllib3",
            "import time:       500 |       2500 |   requests",
            "import time:       400 |        400 |   airflow_provider_canvas.wire.links",
            "import time:      1000 |       4000 | airflow_provider_canvas.hooks.canvas",
        ]
    )
    top = import_cost.importtime_top(stderr)
    assert top[0] == {"module": "requests", "kind": "outside", "ms": 2.5}
    assert "urllib3" not in {row["module"] for row in top}  # imported by requests, not by us
    assert [row["module"] for row in top if row["kind"] == "ours"] == [
        "airflow_provider_canvas.hooks.canvas",
        "airflow_provider_canvas.wire.links",
    ]


def test_command_line_flags():
    config, names = cli.parse([])
    assert (config.users, config.latency, config.quick, names) == (2000, 0.05, False, list(cli.SECTIONS))
    assert config.plot == cli.DOCS_PLOT
    config, names = cli.parse(["--quick", "--only", "sync,list", "--only", "import"])
    assert (config.users, config.latency, config.plot, names) == (200, 0.02, None, ["list", "sync", "import"])
    with pytest.raises(SystemExit):
        cli.parse(["--users", "100"])  # below the minimum without --quick
    with pytest.raises(SystemExit):
        cli.parse(["--only", "nope"])


def test_table_and_plot_render():
    section = Section(
        name="demo",
        title="a demo",
        params={"users": 3},
        columns=(Column("client", "client"), Column("value", "value", lambda v: f"{v:.1f}")),
        rows=[{"client": "a", "value": 1.0}, {"client": "bb", "value": None}],
        targets=[Target("value", ">= 1", "1.0", True), Target("other", "", "no", False)],
    )
    text = render(section)
    assert "== demo: a demo" in text
    assert "\nbb          -\n" in text  # a missing value is a dash, numbers are right-aligned
    assert "target value >= 1: 1.0 -> met" in text
    assert "target other: no -> SHORT" in text
    chart = line_chart("t", "x", "y", [Series("s", [(1, 2.0), (4, 8.0)], "#000")], x_ticks=[1, 4])
    root = ET.fromstring(stack([chart, chart]))
    assert root.tag.endswith("svg")
    assert len(root.findall("{http://www.w3.org/2000/svg}svg")) == 2
