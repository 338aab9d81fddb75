"""Routing: which programs receive an open referral (DOMAIN.md, Routing)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Refusal(enum.StrEnum):
    """Why a program does not receive a referral, as a short code (the preview's "reason")."""

    TARGET = "target"
    SUSPENDED = "suspended"
    MOU = "mou"
    CONTACT = "contact"
    EXCLUDED = "excluded"
    COUNTY = "county"
    SERVICE = "service"
    CONSENT = "consent"


REFUSAL_WORDS: dict[Refusal, str] = {
    Refusal.TARGET: "not one of the programs the referral names",
    Refusal.SUSPENDED: "in no-referral status",
    Refusal.MOU: "agency MOU not valid",
    Refusal.CONTACT: "no active contact",
    Refusal.EXCLUDED: "excluded by family preference",
    Refusal.COUNTY: "does not serve the referral's counties",
    Refusal.SERVICE: "offers none of the needs",
    Refusal.CONSENT: "not covered by the client's consent",
}

# What the coordinator can change about the referral to reach a program refused for a reason;
# None where only the program's side can change it.
REFUSAL_FIXES: dict[Refusal, str | None] = {
    Refusal.TARGET: "name the program among the referral's programs",
    Refusal.SUSPENDED: None,
    Refusal.MOU: None,
    Refusal.CONTACT: None,
    Refusal.EXCLUDED: "lift the family's exclusion",
    Refusal.COUNTY: "add one of the program's counties, or make the referral statewide",
    Refusal.SERVICE: "add one of the program's services to the needs",
    Refusal.CONSENT: "record the client's consent for the program",
}


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


def refusal(program: ProgramFacts, referral: ReferralFacts) -> Refusal | None:
    """The first rule that keeps `program` from receiving `referral`, or None if it receives it."""
    if referral.targets is not None and program.id not in referral.targets:
        return Refusal.TARGET
    if program.suspended:
        return Refusal.SUSPENDED
    if not program.mou_valid:
        return Refusal.MOU
    if not program.has_active_contact:
        return Refusal.CONTACT
    if program.id in referral.excluded:
        return Refusal.EXCLUDED
    if not referral.statewide and not (program.county_ids & referral.county_ids):
        return Refusal.COUNTY
    if referral.needs and not (program.services & referral.needs):
        return Refusal.SERVICE
    if referral.consented is not None and program.id not in referral.consented:
        return Refusal.CONSENT
    return None


def why_not(program: ProgramFacts, referral: ReferralFacts) -> str | None:
    """The first rule that keeps `program` from receiving `referral`, in words, or None."""
    found = refusal(program, referral)
    return None if found is None else REFUSAL_WORDS[found]


def considered(program: ProgramFacts, referral: ReferralFacts) -> bool:
    """Whether the preview names `program` when it is refused: a program that "would have"
    received the referral is one that offers one of its needs, or that the referral names
    (as a target or an exclusion). Programs that offer none of the needs and were never named
    are not news to anyone and would drown the list."""
    if referral.targets is not None and program.id in referral.targets:
        return True
    if program.id in referral.excluded:
        return True
    return bool(program.services & referral.needs)


def route(programs: Iterable[ProgramFacts], referral: ReferralFacts) -> set[int]:
    """The ids of the programs that receive the referral."""
    return {p.id for p in programs if why_not(p, referral) is None}
