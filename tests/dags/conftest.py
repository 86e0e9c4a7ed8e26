from __future__ import annotations

import pytest

from airflow_provider_canvas.hooks.canvas import CanvasHook
from tests.airflow_versions import at_least, dagbag_class
from tests.conftest import DAGS_FOLDER


def _dagbag(folder):
    bag = dagbag_class()(dag_folder=str(folder))
    if not at_least("3.1"):
        # Airflow 3.0's dag.test() fails a task with outlet assets that no DAG processor has registered
        # ("inactive assets", apache/airflow issue 51644): register them as the DAG processor would.
        from airflow.dag_processing.bundles.manager import DagBundlesManager

        DagBundlesManager().sync_bundles_to_db()  # the "dags-folder" bundle the DAG rows refer to
        bag.sync_to_db(bundle_name="dags-folder", bundle_version=None)
    return bag


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    return _dagbag(DAGS_FOLDER / "example_dags")


@pytest.fixture(scope="session")
def test_dagbag(airflow_db):
    return _dagbag(DAGS_FOLDER / "test_dags")


@pytest.fixture
def run_dag(dagbag, test_dagbag, canvas_connection, monkeypatch):
    """Run a DAG with ``dag.test()`` against the fake Canvas; returns the finished DagRun."""
    monkeypatch.setattr(CanvasHook, "retry_base_delay", 0.01)

    def run(dag_id: str, **conf):
        dag = dagbag.get_dag(dag_id) or test_dagbag.get_dag(dag_id)
        assert dag is not None, (dagbag.import_errors, test_dagbag.import_errors)
        return dag.test(run_conf=conf or None)

    return run


def task_states(dag_run) -> dict:
    return {(ti.task_id, ti.map_index): ti.state for ti in dag_run.get_task_instances()}
