"""The README's first command: run example DAG 1 in real Airflow against the bundled fake Canvas.

Starts the fake Canvas on loopback (seeded with demo users), points ``canvas_default`` at it, runs
``airflow dags test canvas_channels_walkthrough`` in a private AIRFLOW_HOME (``.airflow-demo/``), and prints
what happened to each of the demo user's channels. Airflow's own output goes to ``.airflow-demo/*.log``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from airflow_provider_canvas.testing import FakeCanvas

REPO_ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "canvas_channels_walkthrough"
DEMO_SIS_ID = "demo-student-1"
DEMO_ADDRESS = "demo.student.one@example.edu"


def _airflow_env(home: Path, canvas: FakeCanvas) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
            "AIRFLOW_CONN_CANVAS_DEFAULT": canvas.connection_json(),
        }
    )
    return env


def _run(step: str, command: list[str], env: dict[str, str], log: Path) -> None:
    started = time.monotonic()
    print(f"  {step} ...", end="", flush=True)
    with log.open("w") as out:
        result = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    print(f" {'done' if result.returncode == 0 else 'FAILED'} ({time.monotonic() - started:.1f}s)")
    if result.returncode != 0:
        print(f"\n{step} failed (exit {result.returncode}). Last lines of {log}:\n", file=sys.stderr)
        print("\n".join(log.read_text().splitlines()[-40:]), file=sys.stderr)
        raise SystemExit(result.returncode)


def _task_states(home: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, state FROM task_instance WHERE dag_id = ? ORDER BY start_date", (DAG_ID,)
        ).fetchall()
    return [(task_id, state or "none") for task_id, state in rows]


def _describe(channel: dict) -> str:
    return f"{channel['type']:<5} {channel['address']:<34} id {channel['id']:<3} {channel['workflow_state']}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, default=REPO_ROOT / ".airflow-demo", help="AIRFLOW_HOME to use")
    args = parser.parse_args()
    home: Path = args.home

    shutil.rmtree(home, ignore_errors=True)
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "example_dags").symlink_to(REPO_ROOT / "example_dags", target_is_directory=True)
    airflow = str(Path(sys.executable).with_name("airflow"))

    with FakeCanvas() as canvas:
        student = next(
            c["user_id"] for c in canvas.all_channels() if c["address"] == f"{DEMO_SIS_ID}@example.edu"
        )
        before = {c["id"]: c for c in canvas.channels(student, include_retired=True)}
        print(
            f"Fake Canvas listening on {canvas.base_url} (demo user sis_user_id:{DEMO_SIS_ID}, id {student})"
        )
        print(f"Airflow home: {home}")
        env = _airflow_env(home, canvas)
        _run("airflow db migrate", [airflow, "db", "migrate"], env, home / "db-migrate.log")
        _run(f"airflow dags test {DAG_ID}", [airflow, "dags", "test", DAG_ID], env, home / "dags-test.log")
        after = canvas.channels(student, include_retired=True)
        requests = list(canvas.requests)
        stats = canvas.stats

    print("\nTasks:")
    for task_id, state in _task_states(home):
        print(f"  {task_id:<20} {state}")

    print(f"\nChannels of sis_user_id:{DEMO_SIS_ID} (before -> after):")
    for channel in after:
        old = before.get(channel["id"])
        if old is None:
            story = (
                "created, confirmed, then deleted" if channel["workflow_state"] == "retired" else "created"
            )
            print(f"  {_describe(channel)}   <- {story} by the DAG")
        elif old["workflow_state"] != channel["workflow_state"]:
            print(f"  {_describe(channel)}   <- was {old['workflow_state']}")
        else:
            print(f"  {_describe(channel)}   (unchanged)")

    methods = ", ".join(f"{m} {n}" for m, n in sorted(Counter(r.method for r in requests).items()))
    clients = Counter(r.headers.get("user-agent", "").split()[-1].split("/")[0] for r in requests)
    print(
        f"\nCanvas saw {len(requests)} requests ({methods}); "
        f"{clients.get('python-httpx', 0)} came from the deferred sensor's trigger; "
        f"throttled: {stats.throttled}."
    )
    print(f"Airflow's output: {home / 'dags-test.log'}")
    ok = all(state == "success" for _, state in _task_states(home)) and any(
        c["address"] == DEMO_ADDRESS and c["workflow_state"] == "retired" for c in after
    )
    print("\nDemo finished: OK" if ok else "\nDemo finished with problems (see the log above).")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
