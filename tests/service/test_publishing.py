"""Publishing: routing against the directory, who is told, and bad input that changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, ReferralState
from bot.errors import Conflict, Forbidden, InvalidInput, NotFound, UserError
from bot.services import clients, referrals
from storage.db import transaction
from storage.models import AuditEvent, OutboxMessage, Referral
from tests.conftest import row_counts
from tests.network import (
    BEN,
    COORD,
    COORD_SW,
    DANA,
    GK_HOME,
    GK_OZARK,
    GK_RIVER,
    STATEWIDE_COORD,
)
from tests.service.helpers import draft, new_client, published, recipients, sent

AsStaff = Callable[[Session, str], Actor]


def test_a_county_referral_reaches_matching_programs_and_their_gatekeepers(
    network: sessionmaker[Session],
) -> None:
    number = published(network, needs=["RES", "DAY"], counties=["Boone County"])
    with transaction(network) as s:
        assert sorted(recipients(s, number)) == ["heartland-day", "heartland-res"]
        referral = s.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        assert referral.state == ReferralState.OPEN
        assert referral.publish_count == 1
        # Grace keeps both programs' gates: one message each. The coordinators of Boone are
        # told, the publisher excepted; nobody at Ozark or River hears of it.
        assert sent(s) == [
            ("referral_published", GK_HOME),
            ("referral_published", GK_HOME),
            ("referral_published", STATEWIDE_COORD),
        ]
        rows = s.scalars(select(OutboxMessage)).all()
        assert {r.payload["program"] for r in rows if r.address == GK_HOME} == {
            "Heartland Residential",
            "Heartland Day",
        }


def test_a_statewide_referral_reaches_every_county_and_all_coordinators(
    network: sessionmaker[Session],
) -> None:
    number = published(network, needs=["RES", "BEH"], statewide=True, counties=[])
    with transaction(network) as s:
        assert sorted(recipients(s, number)) == ["heartland-res", "ozark-beh", "ozark-rsp"]
        assert sorted(sent(s)) == sorted(
            [
                ("referral_published", GK_HOME),
                ("referral_published", GK_OZARK),
                ("referral_published", GK_OZARK),
                ("referral_published", COORD_SW),
                ("referral_published", STATEWIDE_COORD),
            ]
        )


def test_channel_payloads_carry_no_client_details(network: sessionmaker[Session]) -> None:
    with transaction(network) as s:
        client_id = new_client(s, first_name="Zebedee", last_name="Quinlan", address="9 Secret Rd")
    published(network, client_id=client_id)
    with transaction(network) as s:
        for row in s.scalars(select(OutboxMessage)):
            text = str(row.payload)
            assert "Zebedee" not in text and "Quinlan" not in text and "Secret" not in text
            assert set(row.payload) >= {"number", "where", "needs", "urgency", "age_days"}


def test_exclusions_and_named_programs(network: sessionmaker[Session]) -> None:
    excluded = published(network, needs=["RES", "DAY"], exclude_programs=["heartland-day"])
    named = published(network, needs=["RES", "DAY"], target_programs=["heartland-day"])
    with transaction(network) as s:
        assert sorted(recipients(s, excluded)) == ["heartland-res"]
        assert sorted(recipients(s, named)) == ["heartland-day"]


def test_every_change_is_audited_with_its_channel(network: sessionmaker[Session]) -> None:
    number = published(network)
    with transaction(network) as s:
        referral = s.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.referral_id == referral.id).order_by(AuditEvent.id)
        ).all()
        assert [(e.action, e.channel, e.actor.email if e.actor else None) for e in events] == [
            ("referral_created", "api", COORD),
            ("referral_published", "api", COORD),
        ]
        assert events[1].detail["programs"] == ["Heartland Residential"]


def test_numbers_are_human_readable_and_unique(network: sessionmaker[Session]) -> None:
    first = published(network)
    with transaction(network) as s:
        second = draft(s, client_id=new_client(s))
    assert first == "R-2026-000001"
    assert second == "R-2026-000002"


# --- Bad input: a clear answer, and nothing changes ---------------------------------------------


def _refused(sessions: sessionmaker[Session], attempt: Callable[[Session], object]) -> UserError:
    with transaction(sessions) as s:
        before = row_counts(s)
    with pytest.raises(UserError) as caught, transaction(sessions) as s:
        attempt(s)
    with transaction(sessions) as s:
        assert row_counts(s) == before
    return caught.value


def test_unknown_referral_number(network: sessionmaker[Session], as_staff: AsStaff) -> None:
    error = _refused(
        network,
        lambda s: referrals.publish_referral(
            s, actor=as_staff(s, COORD), number="R-2026-999999", channel=Channel.API
        ),
    )
    assert isinstance(error, NotFound)
    assert error.message == "There is no referral R-2026-999999."
    assert error.hint == "Referral numbers look like R-2026-000042."


def test_a_sixth_need(network: sessionmaker[Session]) -> None:
    with transaction(network) as s:
        client_id = new_client(s)
    error = _refused(
        network,
        lambda s: draft(s, client_id=client_id, needs=["RES", "DAY", "BEH", "RSP", "HSG", "EMP"]),
    )
    assert isinstance(error, InvalidInput)
    assert error.field == "needs"
    assert "at most 5 needs; 6 were given" in error.message


def test_an_unknown_county(network: sessionmaker[Session]) -> None:
    with transaction(network) as s:
        client_id = new_client(s)
    error = _refused(network, lambda s: draft(s, client_id=client_id, counties=["Atlantis"]))
    assert error.field == "counties"
    assert error.message == '"Atlantis" is not a county I know.'


def test_an_unknown_service_code(network: sessionmaker[Session]) -> None:
    with transaction(network) as s:
        client_id = new_client(s)
    error = _refused(network, lambda s: draft(s, client_id=client_id, needs=["RES", "XYZ"]))
    assert error.field == "needs"
    assert "XYZ" in error.message


def test_publishing_without_consent_where_it_is_required(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    network.kw["info"]["settings"] = network.kw["info"]["settings"].model_copy(
        update={"consent_required": True}
    )
    with transaction(network) as s:
        number = draft(s)
    error = _refused(
        network,
        lambda s: referrals.publish_referral(
            s, actor=as_staff(s, COORD), number=number, channel=Channel.API
        ),
    )
    assert isinstance(error, Conflict)
    assert error.field == "consent"
    assert "no active consent" in error.message


def test_consent_limits_routing_to_the_programs_it_covers(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    network.kw["info"]["settings"] = network.kw["info"]["settings"].model_copy(
        update={"consent_required": True}
    )
    with transaction(network) as s:
        client_id = new_client(s)
        clients.sign_consent(
            s,
            actor=as_staff(s, COORD),
            data={
                "client_id": client_id,
                "programs": ["heartland-day"],
                "info_types": ["demographics", "service needs"],
                "signed_by": "Pat Example (guardian)",
                "signer_is_guardian": True,
                "method": "electronic",
            },
            channel=Channel.API,
        )
    number = published(network, client_id=client_id, needs=["RES", "DAY"])
    with transaction(network) as s:
        assert sorted(recipients(s, number)) == ["heartland-day"]


def test_a_second_active_referral_to_the_same_program(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with transaction(network) as s:
        client_id = new_client(s)
    first = published(network, client_id=client_id, needs=["RES"])
    with transaction(network) as s:
        second = draft(s, client_id=client_id, needs=["RES", "HSG"])
    error = _refused(
        network,
        lambda s: referrals.publish_referral(
            s, actor=as_staff(s, COORD), number=second, channel=Channel.API
        ),
    )
    assert isinstance(error, Conflict)
    assert error.message == (
        f"{second} cannot be published: the client already has an active referral to "
        f"Heartland Residential (already has {first})."
    )


def test_only_coordinators_create_and_only_the_primary_publishes(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with transaction(network) as s:
        client_id = new_client(s)
        number = draft(s, client_id=client_id)
    error = _refused(network, lambda s: draft(s, by=DANA, client_id=client_id))
    assert isinstance(error, Forbidden)
    error = _refused(
        network,
        lambda s: referrals.publish_referral(
            s, actor=as_staff(s, STATEWIDE_COORD), number=number, channel=Channel.API
        ),
    )
    assert isinstance(error, Forbidden)
    assert error.message == f"Only the primary coordinator of {number} or an admin can publish it."


def test_a_provider_of_another_program_cannot_see_the_referral(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network)
    error = _refused(
        network,
        lambda s: referrals.view_referral(
            s, actor=as_staff(s, BEN), number=number, channel=Channel.SLACK
        ),
    )
    assert isinstance(error, NotFound)
    assert error.message == f"There is no referral {number} that you can see."


def test_viewing_client_details_is_audited(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network)
    with transaction(network) as s:
        details = referrals.view_referral(
            s, actor=as_staff(s, GK_HOME), number=number, channel=Channel.SLACK
        )
        assert details.client.last_name == "Example"
    with transaction(network) as s:
        event = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event is not None
        assert (event.action, event.channel, event.client_id) == (
            "client_data_viewed",
            "slack",
            details.client.id,
        )


def test_duplicate_clients_are_refused_with_the_match(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with transaction(network) as s:
        first = new_client(
            s,
            first_name="Ann",
            last_name="Lee",
            birth_date=date(1980, 5, 5),
            phone="(573) 555-0100",
        )
    error = _refused(
        network,
        lambda s: new_client(
            s, first_name="ann", last_name="LEE", birth_date=date(1980, 5, 5), phone="573.555.0100"
        ),
    )
    assert isinstance(error, clients.DuplicateClient)
    assert error.match_id == first
    # Same name and birth date but another phone and no address: a different person.
    with transaction(network) as s:
        other = new_client(
            s, first_name="Ann", last_name="Lee", birth_date=date(1980, 5, 5), phone="816-555-0199"
        )
    assert other != first


def test_other_coordinators_rows_are_untouched_by_a_refusal(network: sessionmaker[Session]) -> None:
    published(network)
    with transaction(network) as s:
        assert len(sent(s)) == 2
    assert GK_RIVER  # River Housing serves Boone but offers no RES: never told
