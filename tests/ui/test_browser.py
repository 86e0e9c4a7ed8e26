"""The connection form and Test button as an admin meets them: real Airflow API server, real browser.

Headless Chromium from the operating system (Debian's ``chromium`` package) driven by Playwright for Python;
Playwright's own browser download is never used. Without a browser the tests skip and say how to install
one, unless ``CANVAS_BROWSER_REQUIRED`` is set (``.ci/run`` sets it), where a missing browser fails the run.

Every Airflow version CI runs gets the form walk (on 3.0 and 3.1 the form comes from the hook's WTForms
fields); the Test clicks need 3.1+, since Airflow 3.0's UI has no Test button.

Screenshots go to ``CANVAS_SCREENSHOTS_DIR`` if set (``docs/images`` refreshes the ones in the docs), else
to a pytest temporary directory.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from airflow_provider_canvas import get_provider_info
from airflow_provider_canvas.testing import FakeCanvas
from tests.airflow_versions import airflow_version, at_least
from tests.conftest import REPO_ROOT

# Airflow 3.0's UI has no Test button (only `airflow connections test` and the API, which
# tests/ui/test_connection_in_airflow.py checks on every version); 3.1+ has the Test icon in the list's rows.
needs_test_button = pytest.mark.skipif(
    not at_least("3.1"),
    reason=f"Airflow {airflow_version()}'s UI has no Test Connection button (it came with 3.1)",
)
# Before 3.2 the form is built from the hook's WTForms fields (hooks/_legacy_form.py): no bounds to clamp to.
DECLARATIVE_FORM = at_least("3.2")

BROWSER_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
]
HOW_TO_INSTALL = (
    "browser not installed: the UI tests need Chromium from the system, e.g. `sudo apt-get install -y "
    "chromium` on Debian/Ubuntu (`chromium-browser` elsewhere); .ci/run installs it. "
    "Do not run `playwright install`: these tests use the system browser."
)
WRONG_TOKEN = "wrong-token-" + "7" * 24
# What the provider declares is what the form must show, in this order, with these help texts.
_FORM = get_provider_info()["connection-types"][0]["conn-fields"]
CANVAS_FIELDS = [field["label"] for field in _FORM.values()]
TIMEOUT_HELP = _FORM["timeout"]["description"]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CANVAS_BROWSER_REQUIRED"):
            pytest.fail(HOW_TO_INSTALL, pytrace=False)
        pytest.skip(HOW_TO_INSTALL)
    return path


@dataclass
class AirflowServer:
    url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory) -> Iterator[AirflowServer]:
    """``airflow api-server`` on loopback with its own AIRFLOW_HOME, stopped (whole process group) after."""
    _chromium()  # no point starting Airflow without a browser
    home = tmp_path_factory.mktemp("airflow-ui-home")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__AUTH_MANAGER=(
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(64),
    )
    airflow = str(Path(sys.executable).with_name("airflow"))
    migrate = subprocess.run(
        [airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    port = _free_port()
    log = home / "api-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so its workers stop with it
        )
    server = AirflowServer(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, f"api-server exited:\n{server.log_text()[-3000:]}"
            try:
                if requests.get(f"{server.url}/api/v2/monitor/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, f"api-server not up in 180 s:\n{server.log_text()[-3000:]}"
            time.sleep(0.5)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def canvas() -> Iterator[FakeCanvas]:
    with FakeCanvas() as fake:
        yield fake


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=_chromium(), headless=True, args=BROWSER_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, airflow_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=airflow_server.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    target = os.environ.get("CANVAS_SCREENSHOTS_DIR")
    path = (REPO_ROOT / target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _open_add_form(page) -> None:
    """Admin > Connections > Add Connection, type Canvas LMS: the way a person gets there."""
    page.goto("/")
    page.get_by_role("button", name="Admin").click()
    page.get_by_role("menuitem", name="Connections").click()
    page.get_by_role("button", name="Add Connection").click()


def _choose_canvas(page, conn_id: str) -> None:
    page.get_by_label("Connection ID").fill(conn_id)
    page.get_by_role("combobox").click()
    page.get_by_role("combobox").fill("Canvas")
    page.get_by_role("option", name="Canvas LMS", exact=True).click()


def _add_connection(page, conn_id: str, url: str, token: str) -> None:
    _open_add_form(page)
    _choose_canvas(page, conn_id)
    page.get_by_label("Canvas URL").fill(url)
    page.get_by_label("Access Token").fill(token)
    page.get_by_role("button", name="Save").click()
    page.get_by_role("dialog").wait_for(state="detached")


def _labels(dialog) -> list[str]:
    """The visible field labels, in order (the UI does not tie every label to its input)."""
    texts = [
        " ".join(text.replace("*", "").split()) for text in dialog.locator("label:visible").all_inner_texts()
    ]
    return [text for text in texts if text]  # a switch is a label of its own, without text


def _timeout_box(page):
    """Timeout (seconds): a number box tied to its label (3.2+), else a text box the UI ties to no label."""
    if DECLARATIVE_FORM:
        return page.get_by_label("Timeout (seconds)")
    return page.locator("input[name=element_timeout]")


def _row(page, conn_id: str):
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=conn_id, exact=True))


def _click_test(page, conn_id: str) -> str:
    """The Test icon in the connection's row (3.3 has no Test in the form); returns the toast's text."""
    with page.expect_response("**/api/v2/connections/test") as answer:
        _row(page, conn_id).get_by_role("button", name="Test Connection").click()
    assert answer.value.status == 200, answer.value.text()
    toast = page.locator("[data-scope=toast][data-part=root]").filter(has_text="Test Connection")
    toast.wait_for()
    return toast.inner_text()


def test_the_form_shows_canvas_fields_and_round_trips_a_saved_connection(page, airflow_server, canvas, shots):
    _open_add_form(page)
    _choose_canvas(page, "canvas_ui")
    dialog = page.get_by_role("dialog")

    # Standard fields: relabelled and with placeholders; Login, Port and Schema hidden.
    assert _labels(dialog) == [
        "Connection ID",
        "Connection Type",
        "Description",
        "Canvas URL",
        "Access Token",
    ]
    assert page.get_by_label("Canvas URL").get_attribute("placeholder") == "https://canvas.example.edu"
    assert page.get_by_label("Access Token").get_attribute("type") == "password"
    page.get_by_label("Canvas URL").fill(canvas.base_url)
    page.get_by_label("Access Token").fill(canvas.admin_token)
    dialog.screenshot(path=shots / "connection-form.png")

    # Extra fields: every one with its label, widget and help text (the accordion closes the standard ones).
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    dialog.get_by_text(TIMEOUT_HELP).wait_for()
    labels = _labels(dialog)
    assert labels[labels.index("Page size") :] == CANVAS_FIELDS
    assert dialog.get_by_text(TIMEOUT_HELP).is_visible()
    assert page.get_by_label("Page size").input_value() == "100"
    assert dialog.locator("input[name=element_allow_insecure_http][type=checkbox]").count() == 1
    assert dialog.locator("input[name=element_ca_bundle]").input_value() == ""

    # The form holds only what the hook accepts: Verify TLS offers true/false, Timeout cannot be 0 (3.2+; before,
    # Timeout is a text box and the hook's check names the field, see tests/ui/test_connection_in_airflow.py).
    page.get_by_role("combobox", name="Verify TLS").click()
    assert page.get_by_role("option").all_inner_texts() == ["true", "false"]
    page.get_by_role("option", name="true", exact=True).click()
    timeout = _timeout_box(page)
    if DECLARATIVE_FORM:
        timeout.fill("0")
        timeout.press("Tab")
        assert timeout.input_value() == "0.1"
    else:
        assert timeout.input_value() == "30"  # the declared default, as text
    timeout.fill("20")
    timeout.press("Tab")
    dialog.get_by_role("heading", name="Add Connection").click()  # no focus ring in the picture
    page.set_viewport_size({"width": 1280, "height": 1400})  # the whole form in one picture
    dialog.screenshot(path=shots / "connection-form-extras.png")
    page.set_viewport_size({"width": 1280, "height": 900})

    with page.expect_response("**/api/v2/connections") as saved:
        page.get_by_role("button", name="Save").click()
    assert saved.value.status == 201, saved.value.text()
    stored = saved.value.json()
    assert stored["port"] is None  # what makes Airflow 3.3's own Test fail (see the plugin)
    dialog.wait_for(state="detached")

    # Reopen: the values round-trip and the token stays masked.
    _row(page, "canvas_ui").get_by_role("button", name="Edit Connection").click()
    assert page.get_by_label("Canvas URL").input_value() == canvas.base_url
    assert page.get_by_label("Access Token").input_value() == "***"
    page.get_by_role("dialog").get_by_role("button", name="Extra Fields", exact=True).click()
    assert _timeout_box(page).input_value() == "20"
    assert canvas.admin_token not in page.content()
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    assert canvas.requests == []  # nothing was sent to Canvas yet
    assert canvas.admin_token not in airflow_server.log_text()


@needs_test_button
def test_a_saved_connection_tests_green(page, airflow_server, canvas, shots):
    """Test from the list: green, naming the Canvas user the token belongs to."""
    _add_connection(page, "canvas_ok", canvas.base_url, canvas.admin_token)
    canvas.clear_requests()
    message = _click_test(page, "canvas_ok")
    assert "Test Connection Successful" in message
    assert f"Connected to {canvas.base_url} as Site Admin (user id 1)." in message
    page.screenshot(path=shots / "connection-test-ok.png")
    (request,) = canvas.requests
    assert (request.method, request.path) == ("GET", "/api/v1/users/self")
    assert canvas.admin_token not in airflow_server.log_text()


@needs_test_button
def test_a_wrong_token_fails_clearly_without_showing_the_token(page, airflow_server, canvas, shots):
    _add_connection(page, "canvas_wrong_token", canvas.base_url, WRONG_TOKEN)
    message = _click_test(page, "canvas_wrong_token")
    assert "Test Connection Failed" in message
    assert "Canvas rejected the access token" in message
    assert "Create a new token and paste it again." in message
    page.screenshot(path=shots / "connection-test-wrong-token.png")
    assert WRONG_TOKEN not in page.content()
    assert WRONG_TOKEN not in airflow_server.log_text()


@pytest.mark.skipif(not at_least("3.1"), reason="Airflow 3.0's Providers page links no provider's docs")
def test_the_providers_page_opens_our_docs(page, airflow_server):
    """Admin > Providers: our package's link opens the docs site the provider serves from this API server."""
    page.goto("/")
    page.get_by_role("button", name="Admin").click()
    page.get_by_role("menuitem", name="Providers").click()
    link = page.get_by_role("link", name="airflow-provider-canvas", exact=True)
    assert (link.get_attribute("href") or "").strip() == "canvas-provider-docs/"
    with page.context.expect_page() as opened:
        link.click()
    docs = opened.value
    docs.wait_for_load_state()
    assert docs.url == f"{airflow_server.url}/canvas-provider-docs/"
    assert docs.title().startswith("airflow-provider-canvas")
    if (REPO_ROOT / "docs" / "_build" / "html" / "index.html").is_file():  # CI builds the site first
        assert docs.get_by_role("link", name="Connection").first.is_visible()
        docs.get_by_role("link", name="Changelog").first.click()
        docs.wait_for_load_state()
        assert docs.url == f"{airflow_server.url}/canvas-provider-docs/changelog.html"
