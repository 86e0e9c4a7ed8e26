"""Benchmarks of airflow-provider-canvas against the alternatives, on the bundled fake Canvas.

Run them with ``./dev bench`` (``python -m benchmarks --help`` for the flags); docs/benchmarks.md has the
latest figures and explains the throttle ceiling they are measured against.

Every timed run talks to a fake Canvas started as a separate process (so its CPU and GIL never count
against the client), every client gets a fresh access token (so a fresh throttle bucket on the fake and a
fresh governor in our hook), and every ratio is against a baseline measured in the same run.
"""

from __future__ import annotations
