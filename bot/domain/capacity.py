"""A program's capacity as its gatekeeper last stated it: open, a waitlist, none, assessment."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date


class CapacityStatus(enum.StrEnum):
    OPEN = "open"
    WAITLIST = "waitlist"
    NONE = "no capacity"
    ASSESSMENT = "assessment required"


@dataclass(frozen=True)
class Capacity:
    """A stated capacity: set on a day, optionally only until a day (then no longer stated)."""

    status: CapacityStatus
    set_on: date
    until: date | None = None
    waitlist: int | None = None

    def current_on(self, day: date) -> bool:
        return self.until is None or day <= self.until

    @property
    def words(self) -> str:
        if self.status == CapacityStatus.WAITLIST and self.waitlist is not None:
            text = f"waitlist of {self.waitlist}"
        else:
            text = self.status.value
        text += f" (since {self.set_on.isoformat()}"
        if self.until is not None:
            text += f", until {self.until.isoformat()}"
        return text + ")"


def stated(capacity: Capacity | None, day: date) -> Capacity | None:
    """The capacity that holds on `day`: none stated, or one whose "until" has passed, is None."""
    if capacity is None or not capacity.current_on(day):
        return None
    return capacity


def warns(capacity: Capacity | None, day: date) -> bool:
    """Publishing to a program that said it has no capacity asks the coordinator first."""
    current = stated(capacity, day)
    return current is not None and current.status == CapacityStatus.NONE
