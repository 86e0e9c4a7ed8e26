"""The docs site the API server serves (plugins/docs.py), and that the Providers page's link points at it."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from airflow_provider_canvas.plugins.docs import (
    DOCS_PREFIX,
    NOT_BUILT,
    CanvasDocsApp,
    CanvasDocsPlugin,
    docs_directory,
)

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture
def site(tmp_path) -> Path:
    site = tmp_path / "html"
    (site / "api").mkdir(parents=True)
    (site / "index.html").write_text("<title>index of the site</title>")
    (site / "api" / "hooks.html").write_text("<title>hooks page</title>")
    (tmp_path / "secret.txt").write_text("outside the site")
    return site


def _client(app) -> TestClient:
    return TestClient(Starlette(routes=[Mount(DOCS_PREFIX, app)]))


def test_serves_the_site_and_its_index(site):
    client = _client(CanvasDocsApp(site))
    assert "index of the site" in client.get(f"{DOCS_PREFIX}/").text
    assert "hooks page" in client.get(f"{DOCS_PREFIX}/api/hooks.html").text
    bare = client.get(DOCS_PREFIX, follow_redirects=False)
    assert bare.status_code in (301, 307)
    assert bare.headers["location"].endswith(f"{DOCS_PREFIX}/")


@pytest.mark.parametrize("path", ["../secret.txt", "%2e%2e/secret.txt", "..%2fsecret.txt", "missing.html"])
def test_nothing_outside_the_site(site, path):
    response = _client(CanvasDocsApp(site)).get(f"{DOCS_PREFIX}/{path}")
    assert response.status_code == 404
    assert "outside the site" not in response.text


def test_writes_are_refused(site):
    assert _client(CanvasDocsApp(site)).post(f"{DOCS_PREFIX}/index.html").status_code == 405


def test_without_a_built_site_one_page_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr("airflow_provider_canvas.plugins.docs.docs_directory", lambda: None)
    response = _client(CanvasDocsApp()).get(f"{DOCS_PREFIX}/")
    assert response.status_code == 200
    assert response.text == NOT_BUILT
    assert "./dev build" in response.text


def test_the_packaged_site_wins_over_a_checkout(tmp_path):
    package = tmp_path / "checkout" / "airflow_provider_canvas"
    checkout_site = tmp_path / "checkout" / "docs" / "_build" / "html"
    for folder in (package / "_docs", checkout_site):
        folder.mkdir(parents=True)
    assert docs_directory(package) is None  # folders without an index are not a site
    (checkout_site / "index.html").write_text("checkout")
    assert docs_directory(package) == checkout_site  # an editable install
    (package / "_docs" / "index.html").write_text("wheel")
    assert docs_directory(package) == package / "_docs"


def test_loading_the_plugin_imports_no_web_framework():
    """Every Airflow process loads plugins; only the API server's first docs request needs Starlette.

    Measured against what Airflow itself imports for a plugin (Airflow 3.0's Task SDK brings Starlette).
    """
    code = (
        "import sys; from airflow_provider_canvas._compat import AirflowPlugin; before = set(sys.modules);"
        "import airflow_provider_canvas.plugins.docs;"
        "print(sorted(m for m in set(sys.modules) - before if m.startswith(('starlette', 'fastapi'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_plugin_is_registered():
    (entry,) = CanvasDocsPlugin.fastapi_apps
    assert entry["url_prefix"] == DOCS_PREFIX
    assert isinstance(entry["app"], CanvasDocsApp)
    plugins = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="airflow.plugins")}
    assert plugins["canvas_docs"] == "airflow_provider_canvas.plugins.docs:CanvasDocsPlugin"


def test_the_documentation_url_is_the_served_site():
    """Admin > Providers links Project-URL "Documentation" as is: a relative link to the plugin's prefix."""
    urls = dict(
        entry.split(", ", 1)
        for entry in importlib.metadata.distribution("airflow-provider-canvas").metadata.get_all(
            "Project-URL"
        )
    )
    assert urls["Documentation"] == DOCS_PREFIX.lstrip("/") + "/"
    assert urls["Changelog"] == urls["Documentation"] + "changelog.html"
    assert urls["Source"] == urls["Documentation"] + "_modules/index.html"  # Sphinx's viewcode pages
