"""``--fault`` options of the command line: each text maps onto ``Fault``/``inject`` or the throttle.

A spec is the fault, then comma-separated options (a value cannot contain a comma)::

    status=503,times=2,method=POST          the next 2 POSTs answer 503
    throttle,times=3,path=/users/sis_user_id  the next 3 matching requests are throttled
    latency=1.5,times=always,method=DELETE   every DELETE is answered 1.5 s late
    latency=0.2                             every request spends 0.2 s more in flight (as --latency)
    throttle-harder=4                       a 4x stricter throttle for the whole run
    random=0.05,seed=7                      5% of requests get a random 500/502/503/throttle/reset

Options for the faults that arm for the next requests: ``times=N`` (default 1) or ``times=always``,
``method=GET|POST|DELETE|...``, ``path=REGEX`` (searched in the raw request path) and, for ``reset`` and
``stall``, ``after-processing`` (Canvas runs the request, then the connection fails). Faults are armed in
the order given and a request takes the first armed fault that matches it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .faults import Fault

if TYPE_CHECKING:
    from .server import FakeCanvas

__all__ = ["FAULT_KINDS", "FaultOption", "FaultSpecError", "parse_fault"]

ALWAYS = 2**62  # "times=always": more requests than any run makes
_METHOD = re.compile(r"[A-Z]{3,10}")


class FaultSpecError(ValueError):
    """A ``--fault`` text that cannot be used; the message names the part and the fix."""


@dataclass(frozen=True)
class FaultOption:
    """One parsed ``--fault``: ``apply`` arms it on a fake (before or while it runs).

    :ivar text: the text it was parsed from.
    :ivar apply: arms it on a :class:`~airflow_provider_canvas.testing.FakeCanvas`.
    """

    text: str
    apply: Callable[[FakeCanvas], None] = field(repr=False, compare=False)


def _number(kind: str, value: str | None, *, low: float, high: float, example: str) -> float:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise FaultSpecError(f"{kind} needs a number from {low:g} to {high:g}, e.g. {example}")
    return number


def _status(value: str | None, kind: str, example: str, *, low: int = 400) -> int:
    if value is None or not value.isdigit() or not low <= int(value) <= 599:
        raise FaultSpecError(f"{kind} needs an HTTP status from {low} to 599, e.g. {example}")
    return int(value)


def _no_value(kind: str, value: str | None) -> None:
    if value is not None:
        raise FaultSpecError(f"{kind} takes no value; write just {kind!r}")


def _build_fault(kind: str, value: str | None, options: dict[str, str | None]) -> Fault:
    after = "after-processing" in options
    if after and kind not in ("reset", "stall"):
        raise FaultSpecError("after-processing only applies to reset and stall")
    if kind == "status":
        return Fault.status(_status(value, "status", "status=503"))
    if kind == "throttle":
        return Fault.throttle(None if value is None else _status(value, "throttle", "throttle=429"))
    if kind == "reset":
        _no_value(kind, value)
        return Fault.reset(after_processing=after)
    if kind == "stall":
        seconds = _number("stall", value, low=0, high=3600, example="stall=30")
        return Fault.stall(seconds, after_processing=after)
    if kind == "latency":
        return Fault.stall(_number("latency", value, low=0, high=3600, example="latency=1.5"), respond=True)
    if kind == "redirect":
        if not value:
            raise FaultSpecError("redirect needs a URL, e.g. redirect=https://sso.example.edu/login")
        code = options.pop("code", None)
        return Fault.redirect(value, code=302 if code is None else _status(code, "code", "code=301", low=300))
    if kind == "foreign-next":
        return Fault.foreign_next(value or None)
    _no_value(kind, value)
    simple: dict[str, Callable[[], Fault]] = {
        "malformed-json": Fault.malformed_json,
        "truncated-body": Fault.truncated_body,
        "empty-body": Fault.empty_body,
        "link-loop": Fault.link_loop,
        "downgrade-next": Fault.downgrade_next,
    }
    return simple[kind]()


ARMED_KINDS = (
    "status",
    "throttle",
    "reset",
    "stall",
    "latency",
    "malformed-json",
    "truncated-body",
    "empty-body",
    "redirect",
    "link-loop",
    "foreign-next",
    "downgrade-next",
)
FAULT_KINDS = (*ARMED_KINDS, "throttle-harder", "random")
_SELECTORS = ("times", "method", "path")


def _selectors(options: dict[str, str | None]) -> tuple[int, str | None, str | None]:
    times_text = options.pop("times", None) or "1"
    if times_text == "always":
        times = ALWAYS
    elif times_text.isdigit() and int(times_text) >= 1:
        times = int(times_text)
    else:
        raise FaultSpecError(f"times must be a whole number from 1, or 'always'; got {times_text!r}")
    method = options.pop("method", None)
    if method is not None:
        method = method.upper()
        if not _METHOD.fullmatch(method):
            raise FaultSpecError(f"method must be an HTTP method such as GET, POST or DELETE; got {method!r}")
    path = options.pop("path", None)
    if path is not None:
        try:
            re.compile(path)
        except re.error as error:
            raise FaultSpecError(f"path is not a regular expression ({error}): {path!r}") from None
    return times, method, path


def _throttle_harder(factor: float) -> Callable[[FakeCanvas], None]:
    def apply(canvas: FakeCanvas) -> None:
        now = canvas.throttle
        canvas.throttle = replace(
            now,
            up_front_cost=now.up_front_cost * factor,
            cost=now.cost * factor,
            outflow=now.outflow / factor,
        )

    return apply


def parse_fault(text: str) -> FaultOption:
    """Parse one ``--fault`` text.

    :param text: the fault, then comma-separated options, as above.
    :return: the parsed option; its ``apply(canvas)`` arms it.
    :raises FaultSpecError: the text cannot be used; the message names the part and how to write it.
    """
    parts = [part.strip() for part in text.split(",")]
    if not parts[0]:
        raise FaultSpecError("give the fault first, e.g. status=503,times=2")
    kind, sep, raw_value = parts[0].partition("=")
    kind = kind.strip().lower()
    value = raw_value.strip() if sep else None
    if kind not in FAULT_KINDS:
        raise FaultSpecError(f"unknown fault {kind!r}; use one of {', '.join(FAULT_KINDS)}")
    options: dict[str, str | None] = {}
    for part in parts[1:]:
        name, sep, option_value = part.partition("=")
        name = name.strip().lower()
        if not name:
            raise FaultSpecError("an empty option (two commas in a row?)")
        if name in options:
            raise FaultSpecError(f"{name} is given twice")
        options[name] = option_value.strip() if sep else None
    if kind == "throttle-harder":
        factor = _number(kind, value, low=1, high=1000, example="throttle-harder=4")
        _only(kind, options, ())
        return FaultOption(text, _throttle_harder(factor))
    if kind == "random":
        rate = _number(kind, value, low=0, high=1, example="random=0.05")
        seed_text = options.pop("seed", None)
        if seed_text is not None and not seed_text.isdigit():
            raise FaultSpecError(f"seed must be a whole number; got {seed_text!r}")
        if "times" in options:
            raise FaultSpecError("random takes no times (it applies to every matching request)")
        _, method, path = _selectors(options)
        _only(kind, options, ())
        seed = None if seed_text is None else int(seed_text)
        return FaultOption(
            text, lambda canvas: canvas.inject_random(rate, seed=seed, method=method, path=path)
        )
    if kind == "latency" and not options:  # every request, as --latency
        seconds = _number("latency", value, low=0, high=3600, example="latency=0.2")
        return FaultOption(text, lambda canvas: setattr(canvas, "latency", canvas.latency + seconds))
    fault = _build_fault(kind, value, options)
    options.pop("after-processing", None)
    times, method, path = _selectors(options)
    _only(kind, options, ())
    return FaultOption(text, lambda canvas: canvas.inject(fault, times=times, method=method, path=path))


def _only(kind: str, options: dict[str, str | None], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        hint = (
            "it applies to every request"
            if kind == "throttle-harder"
            else "use times, method, path" + (", seed" if kind == "random" else "")
        )
        raise FaultSpecError(f"{kind} does not take {', '.join(unknown)} ({hint})")
