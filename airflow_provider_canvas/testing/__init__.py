"""A fake Canvas LMS server for testing code that calls the communication-channel endpoints.

Standard library only, and no Airflow import, so it starts in milliseconds in any test::

    from airflow_provider_canvas.testing import FakeCanvas, Fault

    with FakeCanvas() as canvas:
        canvas.inject(Fault.throttle(), times=2)
        ...  # point a client at canvas.base_url with canvas.admin_token

pytest users can enable the ``fake_canvas`` and ``canvas_connection`` fixtures with
``pytest_plugins = ["airflow_provider_canvas.testing.fixtures"]``.
``python -m airflow_provider_canvas.testing`` runs the server by hand.
"""

from __future__ import annotations

from .faults import Fault
from .server import FakeCanvas, Stats
from .state import AccountSettings
from .throttle import ThrottleSettings, bucket_key
from .transport import RequestRecord

__all__ = [
    "AccountSettings",
    "FakeCanvas",
    "Fault",
    "RequestRecord",
    "Stats",
    "ThrottleSettings",
    "bucket_key",
]
