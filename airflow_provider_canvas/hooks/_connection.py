"""Reading an Airflow connection into Canvas settings, for the sync and the async hook alike."""

from __future__ import annotations

from typing import Any, Protocol

from airflow_provider_canvas._compat import mask_secret
from airflow_provider_canvas.wire.config import KNOWN_EXTRAS, CanvasConnectionSettings, parse_connection

__all__ = ["settings_from_connection"]

_EXTRA_PREFIX = "extra__canvas__"


class _Warner(Protocol):
    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...


def settings_from_connection(conn: Any, conn_id: str, log: _Warner) -> CanvasConnectionSettings:
    """Parse an Airflow connection into settings, masking the token and warning about risky choices."""
    # The 3.2+ form stores fields under their own names; older forms and some tools use the prefix.
    extra = {key.removeprefix(_EXTRA_PREFIX): value for key, value in (conn.extra_dejson or {}).items()}
    if conn.password:
        mask_secret(conn.password)
    settings = parse_connection(
        conn_id=conn_id, host=conn.host, password=conn.password, extra=extra, port=conn.port
    )
    if settings.ignored_extras:
        log.warning(
            "Connection %r: ignoring unknown extra fields %s (known: %s).",
            conn_id,
            ", ".join(settings.ignored_extras),
            ", ".join(KNOWN_EXTRAS),
        )
    if settings.verify is False:
        log.warning(
            "Connection %r: TLS certificate verification is OFF (extra verify=false); the access token "
            "can be intercepted. Point verify at a CA bundle path instead.",
            conn_id,
        )
    if settings.allow_insecure_http and settings.base_url.startswith("http://"):
        log.warning(
            "Connection %r: sending the access token over plain http:// (allow_insecure_http).", conn_id
        )
    return settings
