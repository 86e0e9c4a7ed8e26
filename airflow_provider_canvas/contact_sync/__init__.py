"""The contact sync's rules, kept apart from Airflow so each one can be read and tested on its own.

``options`` turns the operator's (possibly templated) arguments into checked values, ``desired`` reads the
wanted contacts, ``plan`` decides per user what to create, retire, keep or hold (plan = f(desired, current
channels, policy)), ``report`` counts and writes what happened. None of these import Airflow. ``engine``
carries a plan out through :class:`~airflow_provider_canvas.hooks.canvas.CanvasHook`: users concurrently,
each user's writes in a safe order, stopping at once on a failure that every request would meet.
"""

from __future__ import annotations
