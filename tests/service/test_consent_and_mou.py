"""Consent and MOUs that really gate: a lapsed or revoked consent withdraws the client from
the programs it no longer covers (clock moved past a year); agency MOUs without an expiry
lapse a year after signing and their renewal rejoins open referrals; the user MOU is signed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_by_email, staff_by_email
from bot.context import today
from bot.demo.seed import seed_demo
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.errors import Forbidden, InvalidInput, NotFound
from bot.network import consent_required
from bot.services import agreements, clients, escalations, referrals, reminders, work
from bot.services.directory import import_directory, parse_directory
from bot.services.grid import GridQuery, search
from bot.services.preview import NoRecipients
from bot.services.routing import recipients_now
from storage.db import transaction
from storage.models import Agency, AuditEvent, OutboxMessage, Referral, Staff
from tests.conftest import Clock
from tests.network import ADMIN, COORD, DANA, GK_HOME, GK_OZARK, LEE, small_network
from tests.service.helpers import draft, new_client, published, recipients

AsStaff = Callable[[Session, str], Actor]
EVERYONE = [COORD, GK_HOME, DANA, LEE, GK_OZARK, ADMIN]


@pytest.fixture
def consenting(network: sessionmaker[Session]) -> sessionmaker[Session]:
    network.kw["info"]["settings"] = network.kw["info"]["settings"].model_copy(
        update={"consent_required": True}
    )
    return network


def _consent(session: Session, client_id: int, programs: list[str]) -> int:
    return clients.sign_consent(
        session,
        actor=actor_by_email(session, COORD),
        data={
            "client_id": client_id,
            "programs": programs,
            "info_types": ["demographics", "service needs"],
            "signed_by": "Pat Example",
            "method": "electronic",
        },
        channel=Channel.API,
    ).id


def _keep_everyone_signed(sessions: sessionmaker[Session], day: date) -> None:
    """A year on, people and agencies have renewed their agreements (not under test here)."""
    with transaction(sessions) as session:
        session.execute(update(Staff).values(user_mou_signed_on=day))
        session.execute(update(Agency).values(mou_signed_on=day, mou_expires_on=None))


def _sees(sessions: sessionmaker[Session], email: str, number: str) -> bool:
    """Whether `email` can read the client's details (and so find the referral in the grid)."""
    with transaction(sessions) as session:
        actor = actor_by_email(session, email)
        try:
            referrals.view_referral(session, actor=actor, number=number, channel=Channel.WEB)
            details = True
        except NotFound:
            details = False
        page = search(session, actor=actor, query=GridQuery(number=number))
        listed = any(row.number == number for row in page.rows)
    # Nobody finds in the grid a referral whose client they may not see (coordinators may
    # see one with no program left on it, which has no grid row).
    assert listed <= details, (email, details, listed)
    return details


def _told(sessions: sessionmaker[Session], kind: str) -> list[tuple[str, list[str]]]:
    with transaction(sessions) as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
        return [(r.address, r.payload["programs"]) for r in rows]


def test_a_lapsed_then_a_revoked_consent_withdraws_the_client_program_by_program(
    consenting: sessionmaker[Session], clock: Clock
) -> None:
    sessions = consenting
    with transaction(sessions) as session:
        client_id = new_client(session)
        _consent(session, client_id, ["heartland-res", "ozark-beh"])
    number = published(sessions, client_id=client_id, needs=["RES", "BEH"])
    with transaction(sessions) as session:
        work.assign_referral(
            session,
            actor=actor_by_email(session, GK_HOME),
            number=number,
            provider=DANA,
            program="heartland-res",
            channel=Channel.SLACK,
        )
        assert sorted(recipients(session, number)) == ["heartland-res", "ozark-beh"]
    assert {who: _sees(sessions, who, number) for who in EVERYONE} == dict.fromkeys(
        EVERYONE, True
    ) | {LEE: False}

    clock.advance(days=200)
    with transaction(sessions) as session:
        second = _consent(session, client_id, ["ozark-beh"])
    clock.advance(days=170)  # the first consent is now more than a year old
    _keep_everyone_signed(sessions, clock.now.date())

    with transaction(sessions) as session:
        assert agreements.lapsed_consents(session) == 1
    with transaction(sessions) as session:
        assert agreements.lapsed_consents(session) == 0  # once

    with transaction(sessions) as session:
        assert sorted(recipients(session, number)) == ["ozark-beh"]
    assert _told(sessions, "consent_withdrawn") == [(COORD, ["Heartland Residential"])]
    assert {who: _sees(sessions, who, number) for who in EVERYONE} == {
        COORD: True,
        GK_HOME: False,
        DANA: False,
        LEE: False,
        GK_OZARK: True,
        ADMIN: True,
    }
    # Reminders and escalations list it for Ozark only.
    with transaction(sessions) as session:
        reminders.thirty_day_reminders(session)
        escalations.overdue_escalations(session)
    with transaction(sessions) as session:
        listed = {
            (row.kind, row.address)
            for row in session.scalars(select(OutboxMessage))
            if row.kind in ("thirty_day_reminder", "overdue_gatekeeper")
            and number in str(row.payload)
        }
    assert listed == {("thirty_day_reminder", GK_OZARK), ("overdue_gatekeeper", GK_OZARK)}

    with transaction(sessions) as session:
        clients.revoke_consent(
            session, actor=actor_by_email(session, COORD), consent_id=second, channel=Channel.WEB
        )
    assert _told(sessions, "consent_withdrawn")[1:] == [(COORD, ["Ozark Behaviour"])]
    assert {who: _sees(sessions, who, number) for who in EVERYONE} == {
        COORD: True,
        GK_HOME: False,
        DANA: False,
        LEE: False,
        GK_OZARK: False,
        ADMIN: True,
    }
    with transaction(sessions) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "consent_withdrawn")
        ).all()
        assert len(actions) == 2

    # A new consent brings the program back, with its assignment as it was.
    with transaction(sessions) as session:
        _consent(session, client_id, ["heartland-res"])
        assert sorted(recipients(session, number)) == ["heartland-res"]
    assert _sees(sessions, DANA, number)


def test_without_consent_required_nothing_is_withdrawn(
    network: sessionmaker[Session], clock: Clock
) -> None:
    with transaction(network) as session:
        client_id = new_client(session)
        consent_id = _consent(session, client_id, ["heartland-res"])
    number = published(network, client_id=client_id, needs=["RES"])
    with transaction(network) as session:
        clients.revoke_consent(
            session,
            actor=actor_by_email(session, COORD),
            consent_id=consent_id,
            channel=Channel.WEB,
        )
        assert sorted(recipients(session, number)) == ["heartland-res"]
    assert _told(network, "consent_withdrawn") == []


def _network_with_mou(signed: str, expires: str | None) -> dict[str, object]:
    data = small_network()
    for agency in data["agencies"]:
        agency["mou_signed_on"] = signed
        agency["mou_expires_on"] = expires
    return data


def test_an_agency_mou_without_expiry_lapses_after_a_year_and_renewal_rejoins(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    with transaction(sessions) as session:
        directory = parse_directory(_network_with_mou("2026-03-01", None), source="net")
        import_directory(session, directory=directory, source="net")
    before = published(sessions, needs=["RES"])
    with transaction(sessions) as session:
        work.assign_referral(
            session,
            actor=actor_by_email(session, GK_HOME),
            number=before,
            provider=DANA,
            program="heartland-res",
            channel=Channel.SLACK,
        )
    clock.advance(days=366)  # 2027-03-03: a year and two days after signing
    _keep_staff_signed(sessions, clock.now.date())
    with transaction(sessions) as session:
        assert agreements.lapsed_agency_mous(session) == 1
    with transaction(sessions) as session:
        assert agreements.lapsed_agency_mous(session) == 0  # once
    # Heartland's staff no longer see the referral they had; the coordinator is told.
    assert {who: _sees(sessions, who, before) for who in (COORD, GK_HOME, DANA, ADMIN)} == {
        COORD: True,
        GK_HOME: False,
        DANA: False,
        ADMIN: True,
    }
    assert _told(sessions, "mou_withdrawn") == [(COORD, ["Heartland Residential"])]
    # A new referral would reach nobody now: publishing it is refused, naming the MOU.
    with transaction(sessions) as session:
        number = draft(session, needs=["RES"])
        referral = session.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None and recipients_now(session, referral) == set()
    with pytest.raises(NoRecipients) as nobody, transaction(sessions) as session:
        referrals.publish_referral(
            session, actor=actor_by_email(session, COORD), number=number, channel=Channel.API
        )
    assert "Heartland Residential: agency MOU not valid" in nobody.value.message

    # The admin renews Heartland's MOU: its programs join the open referrals at once.
    with transaction(sessions) as session:
        with pytest.raises(Forbidden):
            agreements.renew_agency_mou(
                session,
                actor=actor_by_email(session, GK_HOME),
                agency_key="heartland",
                channel=Channel.WEB,
            )
        with pytest.raises(InvalidInput) as bad:
            agreements.renew_agency_mou(
                session,
                actor=actor_by_email(session, ADMIN),
                agency_key="heartland",
                signed_on=date(2030, 1, 1),
                channel=Channel.WEB,
            )
        assert bad.value.field == "signed_on"
        renewed = agreements.renew_agency_mou(
            session,
            actor=actor_by_email(session, ADMIN),
            agency_key="heartland",
            channel=Channel.WEB,
        )
    assert (renewed.valid_until, renewed.joined) == (date(2028, 3, 2), 1)
    with transaction(sessions) as session:
        assert sorted(recipients(session, before)) == ["heartland-res"]
        joined = session.scalars(
            select(OutboxMessage.address).where(OutboxMessage.kind == "program_joined")
        ).all()
        assert joined == [GK_HOME]
    # Dana has the referral back, still assigned to her.
    assert _sees(sessions, DANA, before)

    # Renewing by directory import does the same for Ozark.
    second = published(sessions, needs=["RES", "BEH"])
    with transaction(sessions) as session:
        assert sorted(recipients(session, second)) == ["heartland-res"]
        data = _network_with_mou("2026-03-01", None)
        for agency in data["agencies"]:
            if agency["key"] == "ozark":
                agency["mou_signed_on"] = clock.now.date().isoformat()
        import_directory(session, directory=parse_directory(data, source="net"), source="net")
        assert sorted(recipients(session, second)) == ["heartland-res", "ozark-beh"]


def _keep_staff_signed(sessions: sessionmaker[Session], day: date) -> None:
    with transaction(sessions) as session:
        session.execute(update(Staff).values(user_mou_signed_on=day))


def test_the_user_mou_is_signed_once_a_year_and_audited(
    network: sessionmaker[Session], clock: Clock
) -> None:
    clock.advance(days=400)  # everyone's user MOU (signed 2026-01-05) has lapsed
    with transaction(network) as session:
        with pytest.raises(Forbidden, match="user agreement"):
            actor_by_email(session, DANA)
        staff = staff_by_email(session, DANA)
        assert staff is not None
        signed = agreements.sign_user_mou(session, staff_id=staff.id, channel=Channel.WEB)
        assert signed.signed_on == clock.now.date()
        assert actor_by_email(session, DANA).email == DANA
    with transaction(network) as session:
        with pytest.raises(InvalidInput, match="valid until"):
            agreements.sign_user_mou(session, staff_id=staff.id, channel=Channel.SLACK)
        events = session.execute(
            select(AuditEvent.action, AuditEvent.channel, AuditEvent.detail).where(
                AuditEvent.action == "user_mou_signed"
            )
        ).all()
        assert [(a, c) for a, c, _ in events] == [("user_mou_signed", "web")]
        assert len(events[0][2]["text_sha256"]) == 64


def test_the_demo_network_requires_consent(sessions: sessionmaker[Session]) -> None:

    with transaction(sessions) as session:
        assert not consent_required(session)
        seed_demo(session, today(session))
    with transaction(sessions) as session:
        assert consent_required(session)
