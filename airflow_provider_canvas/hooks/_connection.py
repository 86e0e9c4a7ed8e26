"""Reading an Airflow connection into Canvas settings, for the sync and the async hook alike."""

from __future__ import annotations

import os
import re
from typing import Any, Protocol

from airflow_provider_canvas._compat import mask_secret
from airflow_provider_canvas.wire.config import (
    KNOWN_EXTRAS,
    CanvasConnectionSettings,
    connection_prefix,
    parse_connection,
)

__all__ = ["settings_from_connection", "shown_conn_id"]

_EXTRA_PREFIX = "extra__canvas__"
# Airflow's Test button tests a copy of the connection under a random 8-letter id that it exports as
# AIRFLOW_CONN_<ID> for the duration of the test (airflow.utils.strings.get_random_string()).
_TEST_BUTTON_ID = re.compile(r"[A-Za-z0-9]{8}")


class _Warner(Protocol):
    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...


def shown_conn_id(conn_id: str) -> str | None:
    """The id to name in messages, or None for the throw-away id of Airflow's Test button.

    Naming that id ("Connection 'LKr3Bc8n': ...") would send an admin looking for a connection that does
    not exist. An 8-character id of your own, defined in an environment variable, is also left out: a
    message without an id is the harmless side to err on.
    """
    if _TEST_BUTTON_ID.fullmatch(conn_id) and f"AIRFLOW_CONN_{conn_id.upper()}" in os.environ:
        return None
    return conn_id


def settings_from_connection(conn: Any, conn_id: str, log: _Warner) -> CanvasConnectionSettings:
    """Parse an Airflow connection into settings, masking the token and warning about risky choices."""
    shown = shown_conn_id(conn_id)
    prefix = connection_prefix(shown)
    # The 3.2+ form stores fields under their own names; older forms and some tools use the prefix.
    extra = {key.removeprefix(_EXTRA_PREFIX): value for key, value in (conn.extra_dejson or {}).items()}
    if conn.password:
        mask_secret(conn.password)
    settings = parse_connection(
        conn_id=shown, host=conn.host, password=conn.password, extra=extra, port=conn.port
    )
    if settings.ignored_extras:
        log.warning(
            "%signoring unknown extra fields %s (known: %s).",
            prefix,
            ", ".join(settings.ignored_extras),
            ", ".join(KNOWN_EXTRAS),
        )
    if settings.verify is False:
        log.warning(
            "%sTLS certificate verification is OFF ('Verify TLS' is false); the access token can be "
            "intercepted. Set 'CA bundle path' instead if Canvas uses a private certificate authority.",
            prefix,
        )
    if settings.allow_insecure_http and settings.base_url.startswith("http://"):
        log.warning("%ssending the access token over plain http:// (allow_insecure_http).", prefix)
    return settings
