"""Hatch build hook: put the built docs site into the wheel, so the Airflow API server can serve it.

``./dev build`` builds the site (``./dev docs``) before the wheel. The sdist carries the built site too, so a
wheel built from the sdist (what ``uv build`` and ``pip install <sdist>`` do) has it as well. Without a built
site both are made without it, and ``plugins/docs.py`` serves a page saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SITE = Path("docs") / "_build" / "html"
# Sphinx's caches and page sources are not part of the site a browser sees.
SKIP = (".doctrees", "_sources", ".buildinfo")


class DocsSiteHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        site = Path(self.root) / SITE
        if not (site / "index.html").is_file():
            self.app.display_warning(f"{SITE} is not built: the package will not carry the docs (./dev docs)")
            return
        target = Path("airflow_provider_canvas") / "_docs" if self.target_name == "wheel" else SITE
        for path in sorted(site.rglob("*")):
            relative = path.relative_to(site)
            if path.is_file() and relative.parts[0] not in SKIP:
                build_data["force_include"][str(path)] = str(target / relative)
