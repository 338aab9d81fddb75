"""The idle rule, decided without I/O: who is warned, who loses access, who is kept and why."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

IDLE_DAYS = 90
# Nobody loses access without a warning at least this many days before (and since their
# last use), so a network that was down for months wakes up to warnings, not removals.
WARN_DAYS = 14
# At most this share of the network's active people is removed in one run; past it, the
# admins are told instead (an outage or a clock jump looks exactly like mass idleness).
MAX_SHARE = 0.10


@dataclass(frozen=True)
class Person:
    """An active person as the idle rule sees them."""

    staff_id: int
    last_use: datetime
    warned_at: datetime | None
    is_admin: bool = False
    officer_of: frozenset[int] = frozenset()


@dataclass
class IdlePlan:
    warn: list[int] = field(default_factory=list)
    remove: list[int] = field(default_factory=list)
    # Due for removal but kept: the network's last admin, or an agency's last security officer.
    kept: dict[int, str] = field(default_factory=dict)
    # Due for removal but over this run's bound: the admins are told instead.
    held: list[int] = field(default_factory=list)
    bound: int = 0


def removal_bound(active_people: int, share: float = MAX_SHARE) -> int:
    """How many people one run may remove: a share of the network, at least one."""
    return max(1, math.floor(active_people * share))


def plan_idle(
    people: list[Person],
    *,
    now: datetime,
    idle_days: int = IDLE_DAYS,
    warn_days: int = WARN_DAYS,
    share: float = MAX_SHARE,
    removed_today: int = 0,
) -> IdlePlan:
    """`people` are every active person of the network (for the bound and the last-admin and
    last-officer counts); `removed_today` counts against the bound, so that a second run on
    the same day (a restarted clock) cannot remove as many again."""
    bound = removal_bound(len(people) + removed_today, share)
    plan = IdlePlan(bound=max(0, bound - removed_today))
    admins = sum(1 for p in people if p.is_admin)
    officers: Counter[int] = Counter(a for p in people for a in p.officer_of)
    due: list[Person] = []
    for person in sorted(people, key=lambda p: (p.last_use, p.staff_id)):
        idle = now - person.last_use
        warned = person.warned_at is not None and person.warned_at >= person.last_use
        if idle >= timedelta(days=idle_days) and warned:
            assert person.warned_at is not None
            if now - person.warned_at >= timedelta(days=warn_days):
                due.append(person)
        elif idle >= timedelta(days=idle_days - warn_days) and not warned:
            plan.warn.append(person.staff_id)
    for person in due:
        if person.is_admin and admins <= 1:
            plan.kept[person.staff_id] = "the network's last active admin"
            continue
        last_of = [a for a in person.officer_of if officers[a] <= 1]
        if last_of:
            plan.kept[person.staff_id] = "their agency's last security officer"
            continue
        if len(plan.remove) >= plan.bound:
            plan.held.append(person.staff_id)
            continue
        plan.remove.append(person.staff_id)
        admins -= person.is_admin
        for agency in person.officer_of:
            officers[agency] -= 1
    return plan
