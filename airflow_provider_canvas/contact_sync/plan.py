"""What the sync will do for each user, and in which order: plan = f(desired, current channels, policy).

Pure values in, values out. The rules a registrar cares about live here:

* the diff is per Canvas user, not per input reference (``7`` and ``sis_user_id:S7`` are one person, and
  diffing them apart would retire what the other reference keeps);
* ``mirror`` retires only what ``manage=`` says the sync owns; everything else is left and counted;
* a user's old addresses are retired only after all of their new ones exist, and never the last
  ``active`` one unless a replacement is already ``active`` (an ``unconfirmed`` address reaches nobody).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from airflow_provider_canvas.contact_sync.desired import Wanted
from airflow_provider_canvas.contact_sync.options import Limit, SyncOptions
from airflow_provider_canvas.wire.channels import LIVE_STATES, address_key

__all__ = [
    "Held",
    "LiveChannel",
    "Plan",
    "Planner",
    "UserPlan",
    "delete_guard",
    "predicted_state",
    "settle_deletes",
]


@dataclass(frozen=True)
class LiveChannel:
    """An unretired channel of the synced type, as Canvas listed it."""

    id: int | None
    address: str
    workflow_state: str
    position: int = 0

    @classmethod
    def from_canvas(cls, channel: Mapping[str, object]) -> LiveChannel:
        channel_id, position = channel.get("id"), channel.get("position")
        return cls(
            id=channel_id if isinstance(channel_id, int) and not isinstance(channel_id, bool) else None,
            address=str(channel.get("address", "")),
            workflow_state=str(channel.get("workflow_state")),
            position=position if isinstance(position, int) else 0,
        )


@dataclass(frozen=True)
class Held:
    """A retire that waits for a later run, and why."""

    channel: LiveChannel
    reason: str


@dataclass
class UserPlan:
    """One Canvas user's changes; ``refs`` are the input references that named them (usually one)."""

    refs: list[str]
    line: int
    canvas_user_id: int | None = None
    create: list[Wanted] = field(default_factory=list)
    keep: list[LiveChannel] = field(default_factory=list)
    delete: list[LiveChannel] = field(default_factory=list)
    out_of_scope: list[LiveChannel] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return self.refs[0]

    @property
    def target(self) -> str:
        """How to name the user in a request: Canvas's own id once known, else the input reference."""
        return str(self.canvas_user_id) if self.canvas_user_id is not None else self.ref

    @property
    def writes(self) -> int:
        return len(self.create) + len(self.delete)


@dataclass
class Plan:
    users: list[UserPlan] = field(default_factory=list)
    managed: int = 0  # live channels of the synced type that the sync owns: the delete guard's total

    @property
    def to_create(self) -> int:
        return sum(len(user.create) for user in self.users)

    @property
    def to_delete(self) -> int:
        return sum(len(user.delete) for user in self.users)

    @property
    def unchanged(self) -> int:
        return sum(len(user.keep) for user in self.users)

    @property
    def out_of_scope(self) -> int:
        return sum(len(user.out_of_scope) for user in self.users)


@dataclass
class _Group:
    plan: UserPlan
    live: dict[str, LiveChannel]  # address key -> channel
    wanted: dict[str, Wanted] = field(default_factory=dict)


class Planner:
    """Collects each user's listing as it arrives (in any order), then diffs once per Canvas user."""

    def __init__(self, options: SyncOptions) -> None:
        self.options = options
        self._groups: dict[object, _Group] = {}

    def add(self, ref: str, wanted: Mapping[str, Wanted], channels: Sequence[Mapping[str, object]]) -> None:
        ids = {c.get("user_id") for c in channels}
        canvas_id = ids.pop() if len(ids) == 1 else None
        if not isinstance(canvas_id, int) or isinstance(canvas_id, bool):
            canvas_id = None
        # A user with no channels cannot be matched to another reference of theirs: keyed by reference.
        key: object = canvas_id if canvas_id is not None else ("ref", ref)
        line = min((w.line for w in wanted.values()), default=0)
        group = self._groups.get(key)
        if group is None:
            live: dict[str, LiveChannel] = {}
            for channel in channels:
                if channel.get("type") == self.options.channel_type and channel.get("workflow_state") in (
                    LIVE_STATES
                ):
                    parsed = LiveChannel.from_canvas(channel)
                    live.setdefault(address_key(parsed.address), parsed)
            group = self._groups[key] = _Group(UserPlan([ref], line, canvas_id), live)
        elif ref not in group.plan.refs:
            group.plan.refs.append(ref)
            group.plan.line = min(group.plan.line, line)
        for address, item in wanted.items():
            group.wanted.setdefault(address, item)

    def finish(self) -> Plan:
        plan = Plan()
        scope = self.options.scope
        for group in self._groups.values():
            user = group.plan
            for key, item in group.wanted.items():
                if key in group.live:
                    user.keep.append(group.live[key])
                else:
                    user.create.append(item)
            if self.options.mirror:
                assert scope is not None
                for key, channel in group.live.items():
                    if key in group.wanted:
                        continue
                    if scope.owns(channel.address):
                        user.delete.append(channel)
                    else:
                        user.out_of_scope.append(channel)
                plan.managed += sum(1 for channel in group.live.values() if scope.owns(channel.address))
            else:
                plan.managed += len(group.live)
            plan.users.append(user)
        plan.users.sort(key=lambda user: user.line)
        return plan


def predicted_state(options: SyncOptions) -> str:
    """What a create is expected to answer: only a token allowed to skip confirmation gets ``active``."""
    return "active" if options.skip_confirmation else "unconfirmed"


def settle_deletes(
    user: UserPlan, created: Mapping[str, str], failed_creates: int, channel_type: str = "email"
) -> tuple[list[LiveChannel], list[Held]]:
    """Which of a user's retires may run now that their creates are done; the others are held, with why.

    ``created`` maps each new address (any case) to the ``workflow_state`` Canvas answered with (for a
    dry run: the predicted one). Nobody is left unreachable: if a create failed, nothing of this user's is
    retired; and the last ``active`` channel stays until a replacement is ``active`` too.
    """
    if not user.delete:
        return [], []
    if failed_creates:
        reason = "a new address for this user could not be created, so none of their old ones is retired"
        return [], [Held(channel, reason) for channel in user.delete]
    active_after = any(c.workflow_state == "active" for c in user.keep) or any(
        state == "active" for state in created.values()
    )
    retiring_active = [c for c in user.delete if c.workflow_state == "active"]
    if active_after or not retiring_active:
        return list(user.delete), []
    last = min(retiring_active, key=lambda c: (c.position, c.address))
    reason = (
        f"the user's last active {channel_type} channel: it stays until a replacement is active "
        "(the new address is unconfirmed until the user confirms it; a later run retires this one then)"
    )
    return [c for c in user.delete if c is not last], [Held(last, reason)]


def delete_guard(plan: Plan, limit: Limit) -> str | None:
    """Refuse a plan that retires more than allowed: a truncated input must not wipe the contacts."""
    allowed = limit.allowed(plan.managed)
    if plan.to_delete <= allowed:
        return None
    return (
        f"the plan retires {plan.to_delete} of {plan.managed} managed channels, more than max_deletes "
        f"({limit.describe(plan.managed)}). If the input is complete, raise max_deletes (a dry run shows "
        "the plan); else fix the input"
    )
