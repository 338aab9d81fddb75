"""Routing: which programs receive an open referral (DOMAIN.md, Routing)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgramFacts:
    id: int
    suspended: bool
    mou_valid: bool
    has_active_contact: bool
    county_ids: frozenset[int]
    services: frozenset[str]


@dataclass(frozen=True)
class ReferralFacts:
    statewide: bool
    county_ids: frozenset[int]
    needs: frozenset[str]
    excluded: frozenset[int] = frozenset()
    # Programs named directly ("select a provider from search results"); None routes by search.
    targets: frozenset[int] | None = None
    # Programs covered by an active consent; None when the network does not require consent.
    consented: frozenset[int] | None = None


def why_not(program: ProgramFacts, referral: ReferralFacts) -> str | None:
    """The first rule that keeps `program` from receiving `referral`, or None if it receives it."""
    if referral.targets is not None and program.id not in referral.targets:
        return "not one of the programs the referral names"
    if program.suspended:
        return "in no-referral status"
    if not program.mou_valid:
        return "agency MOU not valid"
    if not program.has_active_contact:
        return "no active contact"
    if program.id in referral.excluded:
        return "excluded by family preference"
    if not referral.statewide and not (program.county_ids & referral.county_ids):
        return "does not serve the referral's counties"
    if referral.needs and not (program.services & referral.needs):
        return "offers none of the needs"
    if referral.consented is not None and program.id not in referral.consented:
        return "not covered by the client's consent"
    return None


def route(programs: Iterable[ProgramFacts], referral: ReferralFacts) -> set[int]:
    """The ids of the programs that receive the referral."""
    return {p.id for p in programs if why_not(p, referral) is None}
