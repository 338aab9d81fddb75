"""Routing, rule by rule: each row changes one fact and names the rule that decides."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.domain.routing import ProgramFacts, ReferralFacts, route, why_not

BOONE, COLE, GREENE = 1, 2, 3

PROGRAM = ProgramFacts(
    id=10,
    suspended=False,
    mou_valid=True,
    has_active_contact=True,
    county_ids=frozenset({BOONE}),
    services=frozenset({"RES", "DAY"}),
)
REFERRAL = ReferralFacts(statewide=False, county_ids=frozenset({BOONE}), needs=frozenset({"RES"}))

CASES = [
    ("every rule holds", PROGRAM, REFERRAL, None),
    ("suspended", replace(PROGRAM, suspended=True), REFERRAL, "in no-referral status"),
    ("agency MOU lapsed", replace(PROGRAM, mou_valid=False), REFERRAL, "agency MOU not valid"),
    (
        "no active contact",
        replace(PROGRAM, has_active_contact=False),
        REFERRAL,
        "no active contact",
    ),
    (
        "excluded by family",
        PROGRAM,
        replace(REFERRAL, excluded=frozenset({10})),
        "excluded by family preference",
    ),
    (
        "other county",
        PROGRAM,
        replace(REFERRAL, county_ids=frozenset({GREENE})),
        "does not serve the referral's counties",
    ),
    (
        "one of several counties",
        PROGRAM,
        replace(REFERRAL, county_ids=frozenset({GREENE, BOONE})),
        None,
    ),
    (
        "statewide reaches any county",
        PROGRAM,
        replace(REFERRAL, statewide=True, county_ids=frozenset()),
        None,
    ),
    (
        "statewide still needs a service",
        PROGRAM,
        replace(REFERRAL, statewide=True, needs=frozenset({"HSG"})),
        "offers none of the needs",
    ),
    (
        "none of the needs",
        PROGRAM,
        replace(REFERRAL, needs=frozenset({"HSG"})),
        "offers none of the needs",
    ),
    ("one of several needs", PROGRAM, replace(REFERRAL, needs=frozenset({"HSG", "DAY"})), None),
    ("consent required and covers it", PROGRAM, replace(REFERRAL, consented=frozenset({10})), None),
    (
        "consent required, not covered",
        PROGRAM,
        replace(REFERRAL, consented=frozenset({11})),
        "not covered by the client's consent",
    ),
    (
        "consent required, none at all",
        PROGRAM,
        replace(REFERRAL, consented=frozenset()),
        "not covered by the client's consent",
    ),
    ("named directly", PROGRAM, replace(REFERRAL, targets=frozenset({10})), None),
    (
        "another program named",
        PROGRAM,
        replace(REFERRAL, targets=frozenset({11})),
        "not one of the programs the referral names",
    ),
    (
        "named but suspended",
        replace(PROGRAM, suspended=True),
        replace(REFERRAL, targets=frozenset({10})),
        "in no-referral status",
    ),
    (
        "named but wrong county",
        PROGRAM,
        replace(REFERRAL, targets=frozenset({10}), county_ids=frozenset({COLE})),
        "does not serve the referral's counties",
    ),
    (
        "named but excluded",
        PROGRAM,
        replace(REFERRAL, targets=frozenset({10}), excluded=frozenset({10})),
        "excluded by family preference",
    ),
]


@pytest.mark.parametrize(
    ("case", "program", "referral", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_routing_rule(
    case: str, program: ProgramFacts, referral: ReferralFacts, reason: str | None
) -> None:
    assert why_not(program, referral) == reason
    assert route([program], referral) == (set() if reason else {10})


def test_route_picks_exactly_the_matching_programs() -> None:
    programs = [
        PROGRAM,
        replace(PROGRAM, id=11, county_ids=frozenset({GREENE})),
        replace(PROGRAM, id=12, suspended=True),
        replace(PROGRAM, id=13, services=frozenset({"RES"}), county_ids=frozenset({BOONE, COLE})),
    ]
    assert route(programs, REFERRAL) == {10, 13}
    assert route(programs, replace(REFERRAL, statewide=True)) == {10, 11, 13}


def test_lifting_an_exclusion_brings_the_program_back() -> None:
    excluded = replace(REFERRAL, excluded=frozenset({10}))
    assert route([PROGRAM], excluded) == set()
    assert route([PROGRAM], replace(excluded, excluded=frozenset())) == {10}


def test_a_program_that_widens_or_resumes_starts_matching() -> None:
    elsewhere = replace(PROGRAM, county_ids=frozenset({GREENE}))
    assert route([elsewhere], REFERRAL) == set()
    assert route([replace(elsewhere, county_ids=frozenset({GREENE, BOONE}))], REFERRAL) == {10}
    narrow = replace(PROGRAM, services=frozenset({"DAY"}))
    assert route([narrow], REFERRAL) == set()
    assert route([replace(narrow, services=frozenset({"DAY", "RES"}))], REFERRAL) == {10}
    assert route([replace(PROGRAM, suspended=True)], REFERRAL) == set()
    assert route([PROGRAM], REFERRAL) == {10}
