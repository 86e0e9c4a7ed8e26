"""docs/testing.md's walk-through, as a person runs it: the fake's command line with a seed file and a fault,
then ``airflow db migrate`` and ``airflow dags test`` in a throw-away Airflow home, then the fake's state."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.airflow_versions import is_airflow_supervisor_request
from tests.conftest import REPO_ROOT
from tests.testing.fake_cli import running_fake

pytestmark = pytest.mark.airflow_db

AIRFLOW = str(Path(sys.executable).parent / "airflow")
SEED = REPO_ROOT / "example_dags" / "data" / "fake_canvas_seed.json"


def test_rehearse_the_walkthrough_dag_against_the_command_line_fake(tmp_path: Path):
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(REPO_ROOT / "example_dags" / "example_canvas_channels_walkthrough.py", dags)
    fault = "status=503,times=1,method=POST"
    with running_fake("--no-demo", "--seed-file", str(SEED), "--fault", fault) as fake:
        env = {
            **os.environ,
            "AIRFLOW_CONN_CANVAS_DEFAULT": fake.info["connection_json"],
            "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
        migrate = subprocess.run(
            [AIRFLOW, "db", "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        conf = '{"user_id": "sis_user_id:S102", "address": "alan.turing@example.edu"}'
        run = subprocess.run(
            [AIRFLOW, "dags", "test", "canvas_channels_walkthrough", "-c", conf],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        log = run.stdout + run.stderr
        assert run.returncode == 0, log[-5000:]
        assert "communication_channels: 503; retry 1 of 5" in log  # the fault was met, and retried

        assert fake.control("stats")["faults"] == 1
        users = {user["sis_user_id"]: user for user in fake.control("users", include_retired="true")}
        assert [(c["address"], c["workflow_state"]) for c in users["S102"]["channels"]] == [
            ("alan.turing@example.edu", "retired")  # created, confirmed, waited for, deleted
        ]
        assert [(c["address"], c["workflow_state"]) for c in users["S100"]["channels"]] == [
            ("ada.lovelace@example.edu", "active"),
            ("+15555550100", "unconfirmed"),
        ]
        shown = "\n".join(line for line in log.splitlines() if not is_airflow_supervisor_request(line))
        assert fake.info["connection_json"] not in shown  # the token is not in the task logs
        assert fake.info["admin_token"] not in shown
