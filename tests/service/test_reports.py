"""The report queries, counted in SQL on each engine: exact counts, periods and visibility."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_by_email
from bot.domain.vocab import Channel
from bot.errors import Forbidden, InvalidInput
from bot.services import reports
from bot.services.referrals import close_referral
from bot.services.reports import FlowRow, OutcomeCount
from bot.services.work import respond_to_referral
from storage.db import transaction
from storage.models import Agency, Staff
from tests.conftest import Clock
from tests.network import ADMIN, BEN, COORD, DANA, GK_OZARK, GK_RIVER, OFFICER
from tests.web_data import report_referrals


@pytest.fixture
def numbers(network: sessionmaker[Session], clock: Clock) -> dict[str, str]:
    return report_referrals(network, clock)


def test_delays_count_open_pairs_by_stage_and_age(
    network: sessionmaker[Session], numbers: dict[str, str]
) -> None:
    with transaction(network) as session:
        report = reports.delays(session, actor=actor_by_email(session, COORD))
    assert report.buckets == ("0-7 days", "8-30 days", "31-60 days", "over 60 days")
    assert report.counts == {
        "unassigned": [0, 0, 0, 1],
        "assigned, no response": [1, 0, 0, 0],
        "tentatively accepted": [1, 0, 0, 0],
        "accepted": [0, 0, 0, 1],
        "declined": [0, 0, 0, 1],
    }
    assert report.total == 5


def test_delays_bucket_edges_follow_the_referrals_age_in_days(
    network: sessionmaker[Session], numbers: dict[str, str], clock: Clock
) -> None:
    # 2026-01-06 + 60 days: the old referrals are 60 days old, not yet "over 60".
    clock.now = clock.now.replace(month=3, day=7)
    with transaction(network) as session:
        report = reports.delays(session, actor=actor_by_email(session, ADMIN))
    assert report.counts["unassigned"] == [0, 0, 1, 0]
    # The fresh ones were published "in the future" of this clock: age 0, never negative.
    assert report.counts["tentatively accepted"] == [1, 0, 0, 0]


def test_closed_referrals_leave_the_delays_report(
    network: sessionmaker[Session], numbers: dict[str, str]
) -> None:

    with transaction(network) as session:
        close_referral(
            session,
            actor=actor_by_email(session, COORD),
            number=numbers["answered"],
            closing={"outcome": "fully met"},
            channel=Channel.API,
        )
    with transaction(network) as session:
        report = reports.delays(session, actor=actor_by_email(session, COORD))
    assert report.total == 3
    assert report.counts["accepted"] == [0, 0, 0, 0]


def test_program_staff_count_their_programs_only(
    network: sessionmaker[Session], numbers: dict[str, str]
) -> None:
    with transaction(network) as session:
        ozark = reports.delays(session, actor=actor_by_email(session, GK_OZARK))
        dana = reports.delays(session, actor=actor_by_email(session, DANA))
        ben = reports.delays(session, actor=actor_by_email(session, BEN))
    assert ozark.total == 1 and ozark.counts["accepted"] == [0, 0, 0, 1]
    # A provider counts the whole program, assigned to them or not: counts carry no client.
    assert dana.total == 3
    assert ben.total == 1


def test_reports_refuse_people_without_a_program_or_network_role(
    network: sessionmaker[Session],
) -> None:
    with transaction(network) as session, pytest.raises(Forbidden) as refused:
        reports.delays(session, actor=actor_by_email(session, OFFICER))
    assert refused.value.message.startswith("Reports count the referrals of programs")


def test_outcomes_count_current_responses_in_the_period(
    network: sessionmaker[Session], numbers: dict[str, str]
) -> None:
    with transaction(network) as session:
        actor = actor_by_email(session, COORD)
        report = reports.outcomes(session, actor=actor)
        empty = reports.outcomes(session, actor=actor, start=date(2026, 1, 1), end=date(2026, 3, 8))
        river = reports.outcomes(session, actor=actor_by_email(session, GK_RIVER))
    assert (report.start, report.end) == (date(2026, 2, 8), date(2026, 3, 9))
    assert report.rows == [
        OutcomeCount("Heartland Residential", "declined", "no vacancy", 1),
        OutcomeCount("Ozark Behaviour", "accepted", None, 1),
        OutcomeCount("River Housing", "tentatively accepted", "pending funding approval", 1),
    ]
    assert report.by_reason() == {
        "accepted": 1,
        "declined: no vacancy": 1,
        "tentatively accepted: pending funding approval": 1,
    }
    assert report.by_program()["Ozark Behaviour"] == {
        "accepted": 1,
        "tentatively accepted": 0,
        "declined": 0,
    }
    assert empty.rows == []
    assert [r.program for r in river.rows] == ["River Housing"]


def test_an_edited_response_counts_once_as_its_current_version(
    network: sessionmaker[Session], numbers: dict[str, str]
) -> None:

    with transaction(network) as session:
        respond_to_referral(
            session,
            actor=actor_by_email(session, GK_RIVER),
            number=numbers["housing"],
            kind="decline",
            reason="funding",
            channel=Channel.API,
        )
    with transaction(network) as session:
        report = reports.outcomes(session, actor=actor_by_email(session, GK_RIVER))
    assert report.rows == [OutcomeCount("River Housing", "declined", "funding", 1)]


def test_agency_flow_counts_referrals_to_and_from_the_agency(
    network: sessionmaker[Session], numbers: dict[str, str]
) -> None:
    with transaction(network) as session:
        # Casey works for River Housing Partners: their referrals go out from River.
        river = session.scalars(select(Agency).where(Agency.key == "river")).one()
        session.execute(update(Staff).where(Staff.email == COORD).values(agency_id=river.id))
    with transaction(network) as session:
        actor = actor_by_email(session, ADMIN)
        whole = reports.agency_flow(
            session, actor=actor, agency="river", start=date(2026, 1, 1), end=date(2026, 3, 9)
        )
        recent = reports.agency_flow(session, actor=actor, agency="River Housing Partners")
        heartland = reports.agency_flow(
            session, actor=actor, agency="heartland", start=date(2026, 1, 6), end=date(2026, 1, 6)
        )
    assert whole.agency == "River Housing Partners"
    assert whole.direction("to") == [FlowRow("to", "River Housing", 1, 0, 1, 0, 0)]
    assert whole.direction("from") == [
        FlowRow("from", "Heartland Community Living", 3, 0, 0, 1, 2),
        FlowRow("from", "Ozark Family Supports", 1, 1, 0, 0, 0),
        FlowRow("from", "River Housing Partners", 1, 0, 1, 0, 0),
    ]
    assert sum(r.referrals for r in recent.direction("from")) == 2
    assert heartland.rows == [FlowRow("to", "Heartland Residential", 2, 0, 0, 1, 1)]


@pytest.mark.parametrize(
    ("agency", "start", "end", "message"),
    [
        ("nowhere", None, None, '"nowhere" is not an agency in the directory.'),
        ("", None, None, "Choose an agency."),
        (
            "river",
            date(2026, 3, 9),
            date(2026, 3, 1),
            "The period starts (2026-03-09) after it ends (2026-03-01).",
        ),
        ("river", date(2020, 1, 1), date(2026, 3, 1), "The period is longer than three years."),
    ],
)
def test_agency_flow_refuses_bad_input(
    network: sessionmaker[Session],
    agency: str,
    start: date | None,
    end: date | None,
    message: str,
) -> None:
    with transaction(network) as session, pytest.raises(InvalidInput) as refused:
        reports.agency_flow(
            session, actor=actor_by_email(session, COORD), agency=agency, start=start, end=end
        )
    assert refused.value.message == message
