"""The provider as users install it: the built wheel (not this checkout) in a fresh venv with Airflow.

The venv gets exactly the Airflow the suite runs on, from uv's cache: what ``uv.lock`` pins (``uv export
--no-dev``), or on another Airflow (``./dev test-airflow``) the pins of ``ci/airflow-<minor>.txt``, used as
constraints so that only the wheel's own dependencies are installed. The checks run outside the repository
so nothing can import the source tree by accident.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import airflow
import pytest
import requests

from tests.airflow_versions import airflow_version, cli_json
from tests.conftest import REPO_ROOT

UV = REPO_ROOT / ".tools" / "bin" / "uv"
DOCS_SITE = REPO_ROOT / "docs" / "_build" / "html"

CHECK_INSTALLED = """
import importlib.metadata, json, sys
from pathlib import Path
import airflow_provider_canvas
from airflow.providers_manager import ProvidersManager
from airflow_provider_canvas.operators import communication_channels as operators
from airflow_provider_canvas.sensors.communication_channels import CanvasCommunicationChannelSensor
from airflow_provider_canvas.triggers.communication_channels import CanvasCommunicationChannelTrigger

dist = importlib.metadata.distribution("airflow-provider-canvas")
hook = ProvidersManager().hooks["canvas"]
print(json.dumps({
    "module": airflow_provider_canvas.__file__,
    "direct_url": dist.read_text("direct_url.json"),
    "hook": [hook.hook_class_name, hook.hook_name, hook.connection_id_attribute_name],
    "operators": sorted(name for name in dir(operators) if name.endswith("Operator")),
    "urls": dist.metadata.get_all("Project-URL"),
}))
"""

# The docs plugin as the API server mounts it, from the installed wheel.
CHECK_DOCS = """
import json
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient
from airflow_provider_canvas.plugins.docs import DOCS_PREFIX, CanvasDocsPlugin, docs_directory

(entry,) = CanvasDocsPlugin.fastapi_apps
client = TestClient(Starlette(routes=[Mount(entry["url_prefix"], entry["app"])]))
pages = {path: client.get(DOCS_PREFIX + path) for path in ("/", "/changelog.html", "/_modules/index.html", "/api/hooks.html")}
print(json.dumps({
    "directory": str(docs_directory()),
    "pages": {path: [page.status_code, "airflow-provider-canvas" in page.text, "CanvasHook" in page.text]
              for path, page in pages.items()},
}))
"""


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False, **kwargs)
    assert result.returncode == 0, f"{args[:3]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """``uv build`` of this checkout: what ``./dev build`` puts into dist/."""
    if not UV.exists():
        pytest.fail("uv is missing from .tools/: run the tests through ./dev test, which installs it")
    out = tmp_path_factory.mktemp("dist")
    _ensure_docs_site()
    env = {**os.environ, "UV_PYTHON": sys.executable, "UV_PYTHON_DOWNLOADS": "never"}
    _run([str(UV), "build", "--out-dir", str(out), str(REPO_ROOT)], env=env)
    return out


def _ensure_docs_site() -> None:
    """What ``./dev build`` does first: the wheel carries the docs site (hatch_build.py). CI builds it before
    the tests (``./dev docs``); a checkout that never did gets it built here, the same way."""
    if (DOCS_SITE / "index.html").is_file():
        return
    sphinx = Path(sys.executable).with_name("sphinx-build")
    if not sphinx.exists():
        pytest.fail("the docs site is not built and Sphinx is not installed here: run ./dev docs first")
    _run([str(sphinx), "--quiet", "--builder", "html", str(REPO_ROOT / "docs"), str(DOCS_SITE)])


@pytest.fixture(scope="module")
def venv(built, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A fresh venv with the wheel and the locked Airflow, and an environment that points outside the repo."""
    root = tmp_path_factory.mktemp("user")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "PYTHON"))}
    env.update(
        AIRFLOW_HOME=str(root / "airflow"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        UV_PYTHON_DOWNLOADS="never",
        VIRTUAL_ENV="",
    )
    version = airflow_version()
    ci_pins = REPO_ROOT / "ci" / f"airflow-{version.major}.{version.minor}.txt"
    if ci_pins.exists():
        pins = ["--constraints", str(ci_pins)]
    else:
        requirements = root / "requirements.txt"
        _run(
            [
                str(UV),
                "export",
                "--frozen",
                "--no-dev",
                "--no-emit-project",
                "--no-hashes",
                "-o",
                str(requirements),
            ],
            cwd=REPO_ROOT,
            env=env,
        )
        pins = ["-r", str(requirements)]
    _run([str(UV), "venv", "--quiet", "--python", sys.executable, str(root / "venv")], env=env)
    (wheel,) = built.glob("*.whl")
    python = root / "venv" / "bin" / "python"
    _run([str(UV), "pip", "install", "--quiet", "--python", str(python), *pins, str(wheel)], env=env)
    installed = _run([str(python), "-c", "import airflow; print(airflow.__version__)"], cwd=root, env=env)
    assert installed.stdout.strip().splitlines()[-1] == airflow.__version__  # the Airflow this suite runs on
    return root, env


def test_wheel_and_sdist_metadata(built):
    (wheel,) = built.glob("*.whl")
    (sdist,) = built.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read("airflow_provider_canvas-0.1.0.dist-info/METADATA").decode()
        entry_points = archive.read("airflow_provider_canvas-0.1.0.dist-info/entry_points.txt").decode()
    assert "airflow_provider_canvas/py.typed" in names
    assert "airflow_provider_canvas/testing/__main__.py" in names
    assert not [name for name in names if name.startswith(("tests/", "example_dags/", "docs/"))]
    # The docs site, without Sphinx's caches and page sources.
    docs = [name.removeprefix("airflow_provider_canvas/_docs/") for name in names if "/_docs/" in name]
    assert {"index.html", "changelog.html", "connection.html", "api/hooks.html"} <= set(docs)
    assert not [name for name in docs if name.startswith((".doctrees", "_sources", ".buildinfo"))]
    with tarfile.open(sdist) as archive:  # a wheel built from the sdist gets the site too
        assert "airflow_provider_canvas-0.1.0/docs/_build/html/index.html" in archive.getnames()
    assert "Description-Content-Type: text/markdown" in metadata
    # Relative: the provider's own docs plugin serves them on the Airflow API server (plugins/docs.py).
    assert "Project-URL: Documentation, canvas-provider-docs/" in metadata
    assert "Project-URL: Source, canvas-provider-docs/_modules/index.html" in metadata
    assert "Project-URL: Changelog, canvas-provider-docs/changelog.html" in metadata
    assert "provider_info = airflow_provider_canvas:get_provider_info" in entry_points
    assert (
        "canvas_test_button = airflow_provider_canvas.plugins.test_button:CanvasTestButtonPlugin"
        in entry_points
    )
    assert "canvas_docs = airflow_provider_canvas.plugins.docs:CanvasDocsPlugin" in entry_points
    # The long description renders as PyPI would render it.
    twine = Path(sys.executable).with_name("twine")
    result = _run([str(twine), "check", "--strict", str(wheel), str(sdist)])
    assert result.stdout.count("PASSED") == 2


def test_airflow_lists_the_installed_provider(venv):
    root, env = venv
    airflow = str(root / "venv" / "bin" / "airflow")
    providers = cli_json(_run([airflow, "providers", "list", "-o", "json"], cwd=root, env=env).stdout)
    (ours,) = [p for p in providers if p["package_name"] == "airflow-provider-canvas"]
    assert ours["version"] == "0.1.0"


def test_connection_type_and_operators_from_the_wheel(venv):
    root, env = venv
    python = str(root / "venv" / "bin" / "python")
    found = json.loads(_run([python, "-c", CHECK_INSTALLED], cwd=root, env=env).stdout.splitlines()[-1])
    assert Path(found["module"]).is_relative_to(root / "venv")  # the wheel, not this checkout
    assert found["direct_url"] is None or '"editable": true' not in found["direct_url"]
    assert found["hook"] == [
        "airflow_provider_canvas.hooks.canvas.CanvasHook",
        "Canvas LMS",
        "canvas_conn_id",
    ]
    assert "CanvasCreateCommunicationChannelOperator" in found["operators"]
    assert "Documentation, canvas-provider-docs/" in found["urls"]


def test_the_api_server_serves_the_docs_from_the_wheel(venv):
    root, env = venv
    python = str(root / "venv" / "bin" / "python")
    found = json.loads(_run([python, "-c", CHECK_DOCS], cwd=root, env=env).stdout.splitlines()[-1])
    assert Path(found["directory"]).is_relative_to(root / "venv")  # the wheel's copy, not this checkout's
    for path, (status, names_the_package, _) in found["pages"].items():
        assert (status, names_the_package) == (200, True), path
    assert found["pages"]["/api/hooks.html"][2]  # the API reference, generated from the docstrings


def test_the_fake_canvas_starts_from_the_wheel(venv):
    root, env = venv
    python = str(root / "venv" / "bin" / "python")
    with subprocess.Popen(
        [python, "-m", "airflow_provider_canvas.testing", "--port", "0"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            first = json.loads(process.stdout.readline())
            assert first["base_url"].startswith("http://127.0.0.1:")
            me = requests.get(
                first["base_url"] + "/api/v1/users/self",
                headers={"Authorization": f"Bearer {first['admin_token']}"},
                timeout=10,
            )
            assert me.json()["name"] == "Site Admin"
        finally:
            process.terminate()
            process.wait(timeout=20)
