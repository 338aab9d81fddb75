"""How long agreements last: an agency MOU without an end date lapses a year after signing."""

from __future__ import annotations

from datetime import date, timedelta

# An agency MOU is renewed yearly; one recorded without an expiry date is not valid forever.
AGENCY_MOU_VALID_DAYS = 365


def agency_mou_ends(signed_on: date | None, expires_on: date | None) -> date | None:
    """The last day an agency MOU is valid: its expiry date, or a year after signing."""
    if expires_on is not None:
        return expires_on
    if signed_on is None:
        return None
    return signed_on + timedelta(days=AGENCY_MOU_VALID_DAYS)


def agency_mou_valid(signed_on: date | None, expires_on: date | None, day: date) -> bool:
    ends = agency_mou_ends(signed_on, expires_on)
    return signed_on is not None and ends is not None and signed_on <= day <= ends
