"""The referral lifecycle: draft -> open -> pending placement -> closed, or deleted."""

from __future__ import annotations

from datetime import datetime

from bot.domain.vocab import ACTIVE_STATES, ReferralState
from bot.errors import Conflict

AGING_DAYS = 60
MAX_NEEDS = 5
# A consent (release of information) runs one year from the local day it was signed.
CONSENT_VALID_DAYS = 365

_ALLOWED: dict[str, set[ReferralState]] = {
    "publish": {ReferralState.DRAFT},
    "republish": {ReferralState.OPEN, ReferralState.PENDING_PLACEMENT},
    "edit": {ReferralState.DRAFT, ReferralState.OPEN, ReferralState.PENDING_PLACEMENT},
    "pending": {ReferralState.OPEN},
    "close": {ReferralState.OPEN, ReferralState.PENDING_PLACEMENT},
    "delete": {ReferralState.DRAFT, ReferralState.OPEN, ReferralState.PENDING_PLACEMENT},
    "work": {ReferralState.OPEN, ReferralState.PENDING_PLACEMENT},
}

_STATE_WORDS = {
    ReferralState.DRAFT: "still a draft",
    ReferralState.OPEN: "open",
    ReferralState.PENDING_PLACEMENT: "pending placement",
    ReferralState.CLOSED: "closed",
    ReferralState.DELETED: "deleted",
}

_ACTION_WORDS = {
    "publish": "published",
    "republish": "re-published",
    "edit": "edited",
    "pending": "marked pending placement",
    "close": "closed",
    "delete": "deleted",
    "work": "worked on",
}


def allows(state: ReferralState, action: str) -> bool:
    return state in _ALLOWED[action]


def check_transition(number: str, state: ReferralState, action: str) -> None:
    """Raise Conflict, in words for a person, when `action` is not allowed in `state`."""
    if state not in _ALLOWED[action]:
        raise Conflict(
            f"{number} is {_STATE_WORDS[state]}, so it cannot be {_ACTION_WORDS[action]}."
        )


def age_days(
    first_published_at: datetime | None, until: datetime, closed_at: datetime | None = None
) -> int | None:
    """Days since first publication; None for a draft. A closed referral stops ageing at its
    close: its age is how long the loop took."""
    if first_published_at is None:
        return None
    if closed_at is not None and closed_at < until:
        until = closed_at
    return max(0, (until - first_published_at).days)


def is_aging(age: int | None, state: str | None = None) -> bool:
    """Over 60 days and still open (a closed referral is never flagged)."""
    if state is not None and state not in ACTIVE_STATES:
        return False
    return age is not None and age > AGING_DAYS
