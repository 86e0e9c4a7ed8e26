"""The sync's settings, checked: values arrive typed from Python or as text rendered from ``dag_run.conf``.

Every setting that can be templated accepts its text form too (``"true"``, ``"0.2"``, ``"20%"``,
``"['uni.edu']"``), and every refusal names the argument and what would be accepted, so a one-off approval
through ``dag_run.conf`` fails loudly on a typo instead of running with a default.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from airflow_provider_canvas.wire.channels import validate_channel_type
from airflow_provider_canvas.wire.urls import USER_ID_PREFIXES

__all__ = [
    "MODES",
    "ON_MISSING_USER",
    "ON_UNCONFIRMED",
    "Limit",
    "Scope",
    "SyncOptions",
    "is_template",
    "parse_bool",
    "parse_choice",
    "parse_limit",
    "parse_scope",
    "parse_sync_channel_type",
    "parse_user_id_prefix",
]

MODES = ("add_only", "mirror")
ON_MISSING_USER = ("fail", "skip")
ON_UNCONFIRMED = ("fail", "continue")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


def is_template(value: object) -> bool:
    """Is this still Jinja to be rendered at run time? Then it can only be checked in ``execute()``."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def parse_bool(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{field} must be true or false (or the text 'true'/'false'); got {value!r}.")


def parse_choice(value: object, field: str, choices: Sequence[str]) -> str:
    text = value.strip().lower() if isinstance(value, str) else value
    if text not in choices:
        raise ValueError(f"{field} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}.")
    return str(text)


def parse_sync_channel_type(value: object) -> str:
    channel_type = validate_channel_type(value)
    if channel_type == "push":
        raise ValueError("channel_type must be 'email' or 'sms' for a sync: push channels have no address.")
    return channel_type


def parse_user_id_prefix(value: object) -> str | None:
    """``sis_user_id:`` and friends: prepended to every id in the input that has no prefix of its own."""
    if value is None or value == "":
        return None
    text = value.strip() if isinstance(value, str) else value
    known = [f"{prefix}:" for prefix in USER_ID_PREFIXES if prefix != "hex"]
    if text not in known:
        raise ValueError(f"user_id_prefix must be one of {', '.join(known)}; got {value!r}.")
    return str(text)


@dataclass(frozen=True)
class Limit:
    """A tolerance given as a count (``5``) or as a fraction of a total (``0.05``, ``"5%"``)."""

    count: int | None = None
    fraction: float | None = None

    def allowed(self, total: int) -> int:
        """How many of ``total`` may go; a fraction above 0 always allows at least one."""
        if self.count is not None:
            return self.count
        fraction = self.fraction or 0.0
        return max(1, math.floor(fraction * total)) if fraction > 0 else 0

    def describe(self, total: int) -> str:
        if self.count is not None:
            return str(self.count)
        return f"{self.fraction:.0%} of {total}, so {self.allowed(total)}"


def parse_limit(value: object, field: str) -> Limit:
    """An int is a count; a float from 0 to 1 (or text like ``"0.2"`` or ``"20%"``) is a fraction."""
    problem = (
        f"{field} must be a count (a whole number >= 0, e.g. 5) or a fraction of the total (a number "
        f"from 0.0 to 1.0 such as 0.05, or a percentage such as '5%'); got {value!r}."
    )
    number: int | float
    if isinstance(value, bool):
        raise ValueError(problem)
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                number = float(text[:-1]) / 100
            elif re.fullmatch(r"[0-9]+", text):
                number = int(text)
            else:
                number = float(text)
        except ValueError:
            raise ValueError(problem) from None
    elif isinstance(value, (int, float)):
        number = value
    else:
        raise ValueError(problem)
    if isinstance(number, int):
        if number < 0:
            raise ValueError(problem)
        return Limit(count=number)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError(problem)
    return Limit(fraction=number)


@dataclass(frozen=True)
class Scope:
    """Which existing addresses the sync owns, and so may retire: ``manage=``."""

    kind: Literal["all", "domains", "pattern"]
    domains: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None

    def owns(self, address: str) -> bool:
        if self.kind == "all":
            return True
        if self.kind == "domains":
            domain = address.rpartition("@")[2].strip().lower()
            return any(domain == d or domain.endswith("." + d) for d in self.domains)
        assert self.pattern is not None
        return self.pattern.search(address) is not None

    def describe(self) -> str:
        if self.kind == "all":
            return "all"
        if self.kind == "domains":
            return "domains " + ", ".join(self.domains)
        assert self.pattern is not None
        return f"pattern {self.pattern.pattern!r}"


def _domain(value: object) -> str:
    text = value.strip().lower().removeprefix("@") if isinstance(value, str) else ""
    if not _DOMAIN.fullmatch(text):
        raise ValueError(
            f"manage has {value!r}, which is not an e-mail domain; give domains like ['uni.edu'] "
            "(subdomains are included), a regular expression string, or 'all'."
        )
    return text


def parse_scope(value: object) -> Scope | None:
    """``manage=``: a list of e-mail domains, a regular expression (text or compiled), or ``"all"``.

    Text that looks like a list (``"['uni.edu']"``, as a list renders from ``params``) is read as one.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, re.Pattern):
        return Scope("pattern", pattern=value)
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == "all":
            return Scope("all")
        if text.startswith("["):
            try:
                items = json.loads(text)
            except ValueError:
                try:
                    items = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    raise ValueError(f"manage looks like a list but cannot be read: {value!r}.") from None
            return parse_scope(list(items) if isinstance(items, (list, tuple)) else items)
        try:
            return Scope("pattern", pattern=re.compile(text, re.IGNORECASE))
        except re.error as error:
            raise ValueError(f"manage is not a valid regular expression ({error}): {value!r}.") from None
    if isinstance(value, (list, tuple, set, frozenset)):
        if not value:
            raise ValueError("manage is an empty list; give at least one domain, a pattern, or 'all'.")
        return Scope("domains", domains=tuple(sorted({_domain(item) for item in value})))
    raise ValueError(
        "manage must be a list of e-mail domains, a regular expression, or 'all'; "
        f"got {type(value).__name__}."
    )


@dataclass(frozen=True)
class SyncOptions:
    """Everything that decides what the sync does, already checked."""

    channel_type: str = "email"
    mode: str = "add_only"
    scope: Scope | None = None
    skip_confirmation: bool = False
    dry_run: bool = False
    max_deletes: Limit = Limit(fraction=0.1)
    max_failures: Limit = Limit(count=0)
    on_missing_user: str = "fail"
    on_unconfirmed: str = "fail"

    @property
    def mirror(self) -> bool:
        return self.mode == "mirror"

    @classmethod
    def parse(
        cls,
        *,
        channel_type: Any = "email",
        mode: Any = "add_only",
        manage: Any = None,
        skip_confirmation: Any = False,
        dry_run: Any = False,
        max_deletes: Any = 0.1,
        max_failures: Any = 0,
        on_missing_user: Any = "fail",
        on_unconfirmed: Any = "fail",
    ) -> SyncOptions:
        options = cls(
            channel_type=parse_sync_channel_type(channel_type),
            mode=parse_choice(mode, "mode", MODES),
            scope=parse_scope(manage),
            skip_confirmation=parse_bool(skip_confirmation, "skip_confirmation"),
            dry_run=parse_bool(dry_run, "dry_run"),
            max_deletes=parse_limit(max_deletes, "max_deletes"),
            max_failures=parse_limit(max_failures, "max_failures"),
            on_missing_user=parse_choice(on_missing_user, "on_missing_user", ON_MISSING_USER),
            on_unconfirmed=parse_choice(on_unconfirmed, "on_unconfirmed", ON_UNCONFIRMED),
        )
        if options.mirror and options.scope is None:
            raise ValueError(
                "mode='mirror' needs manage=: say which addresses the sync owns and may retire, e.g. "
                "manage=['uni.edu'] (that domain and its subdomains), a regular expression, or 'all'. "
                "Addresses outside it (a student's personal e-mail) are never retired."
            )
        return options
