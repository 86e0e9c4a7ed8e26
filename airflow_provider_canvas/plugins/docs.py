"""This provider's documentation, served by the Airflow API server it is installed in.

Admin > Providers links each provider to its ``Documentation`` project URL. Nothing of ours is hosted on
the internet yet, and many institutions run Airflow where the internet is far away, so the wheel carries
the built docs site (``./dev build`` puts ``docs/_build/html`` into ``airflow_provider_canvas/_docs``) and
this plugin serves it at ``/canvas-provider-docs/``. The project URL is relative (``canvas-provider-docs/``),
so the link resolves on whatever host and base URL the Airflow UI is served from, and always shows the
docs of the version installed.

An install made without the built site (``pip install`` of a checkout where ``./dev docs`` never ran) gets
one page that says so, not a 404. The app is created on the first request: workers and the scheduler,
which load plugins too, never import Starlette for it.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from airflow_provider_canvas import __version__
from airflow_provider_canvas._compat import AirflowPlugin

__all__ = ["DOCS_PREFIX", "CanvasDocsApp", "CanvasDocsPlugin", "docs_directory"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DOCS_PREFIX = "/canvas-provider-docs"
PACKAGE = Path(__file__).resolve().parent.parent


def docs_directory(package: Path = PACKAGE) -> Path | None:
    """The built site: in the package (a wheel), else in the checkout an editable install points at."""
    for candidate in (package / "_docs", package.parent / "docs" / "_build" / "html"):
        if (candidate / "index.html").is_file():
            return candidate
    return None


NOT_BUILT = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>airflow-provider-canvas {html.escape(__version__)}</title>
</head><body>
<h1>airflow-provider-canvas {html.escape(__version__)}</h1>
<p>This install does not include the documentation site: it was installed from a checkout where the docs
were not built. Build the wheel with <code>./dev build</code> (it builds the docs first) and install that,
or read the guides in the <code>docs/</code> folder of the source.</p>
</body></html>
"""


class CanvasDocsApp:
    """ASGI app: the docs directory as static files (``index.html`` for a folder), read-only."""

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._app: ASGIApp | None = None
        self._lock = threading.Lock()

    def _build(self) -> ASGIApp:
        from starlette.responses import HTMLResponse
        from starlette.staticfiles import StaticFiles

        directory = self._directory or docs_directory()
        if directory is None:
            page = HTMLResponse(NOT_BUILT)

            async def not_built(scope: Scope, receive: Receive, send: Send) -> None:
                await page(scope, receive, send)

            return not_built
        return StaticFiles(directory=directory, html=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = self._build()
        await self._app(scope, receive, send)


class CanvasDocsPlugin(AirflowPlugin):
    """Registered by the provider; Admin > Plugins lists it as ``canvas_docs``."""

    name = "canvas_docs"
    fastapi_apps = [
        {"app": CanvasDocsApp(), "url_prefix": DOCS_PREFIX, "name": "Canvas provider documentation"}
    ]
