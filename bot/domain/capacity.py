"""A program's capacity as its gatekeeper last stated it: open, a waitlist, none, assessment."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date

from bot.domain.vocab import match_choice
from bot.errors import InvalidInput


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


CAPACITY_EXAMPLES = (
    "For example: capacity waitlist 12, capacity no capacity until 2026-05-01, "
    "capacity open program=KEY."
)


@dataclass(frozen=True)
class SetCapacity:
    status: CapacityStatus
    waitlist: int | None = None
    until: date | None = None
    program: str | None = None


_UNTIL = re.compile(r"^until$", re.IGNORECASE)


def read_capacity(words: list[str], *, hint: str = CAPACITY_EXAMPLES) -> SetCapacity:
    """A stated capacity in words, as every channel takes it: `waitlist 12`, `no capacity until
    2026-05-01`, `open program=KEY`."""
    program = None
    kept = []
    for word in words:
        if word.lower().startswith("program="):
            program = word.split("=", 1)[1] or None
        else:
            kept.append(word)
    until = None
    if len(kept) >= 2 and _UNTIL.match(kept[-2]):
        try:
            until = date.fromisoformat(kept[-1])
        except ValueError:
            raise InvalidInput(
                f'"{kept[-1]}" is not a date.', field="until", hint="Write it as YYYY-MM-DD."
            ) from None
        kept = kept[:-2]
    waitlist = None
    if kept and kept[-1].isdigit():
        waitlist = int(kept[-1])
        kept = kept[:-1]
    if not kept:
        raise InvalidInput("Say what the capacity is.", field="status", hint=hint)
    status = match_choice(" ".join(kept), CapacityStatus, field="capacity")
    return SetCapacity(status, waitlist, until, program)
