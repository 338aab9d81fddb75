"""The referring side: client search and duplicates, consent, the recipient preview, capacity,
edit and re-publish, delete with a reason, program lookup."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.permissions import Actor
from bot.domain.routing import Refusal
from bot.domain.vocab import Channel, ReferralState
from bot.errors import Forbidden, InvalidInput, UserError
from bot.services import clients, programs, referrals
from bot.services.digests import digest_text_for_channel
from bot.services.preview import NoCapacity, NoRecipients, preview_referral
from bot.services.revise import revise_referral
from storage.db import transaction
from storage.models import AuditEvent, Consent, OutboxMessage, Program, Referral
from tests.conftest import row_counts
from tests.network import COORD, DANA, GK_HOME, GK_OZARK
from tests.service.helpers import draft, new_client, published, recipients, sent

AsStaff = Callable[[Session, str], Actor]
API = Channel.API


def _refused(sessions: sessionmaker[Session], attempt: Callable[[Session], object]) -> UserError:
    with transaction(sessions) as s:
        before = row_counts(s)
    with pytest.raises(UserError) as caught, transaction(sessions) as s:
        attempt(s)
    with transaction(sessions) as s:
        assert row_counts(s) == before
    return caught.value


def _audit(session: Session, action: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def _consent_required(sessions: sessionmaker[Session]) -> None:
    info = sessions.kw["info"]
    info["settings"] = info["settings"].model_copy(update={"consent_required": True})


# --- search and duplicates -----------------------------------------------------------------------


def test_search_by_name_birth_date_phone_and_external_id_is_audited(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with transaction(network) as s:
        maria = new_client(
            s,
            first_name="María",
            last_name="García-López",
            birth_date=date(1990, 4, 2),
            phone="(573) 555-0142",
            external_id="MO-778812",
        )
        other = new_client(s, first_name="Mario", last_name="Garner", birth_date=date(1985, 1, 1))
    with transaction(network) as s:
        coord = as_staff(s, COORD)

        def ids(text: str) -> list[int]:
            return [c.id for c in clients.search_clients(s, actor=coord, text=text, channel=API)]

        assert ids("maria garcia") == [maria]
        assert ids("LOPEZ") == [maria]
        assert ids("mar") == [maria, other] or ids("mar") == [other, maria]
        assert ids("Maria 1990-04-02") == [maria]
        assert ids("garcia 4/2/1990") == [maria]
        assert ids("Maria 1990-04-03") == []
        assert ids("1990-04-02") == [maria]
        assert ids("573.555.0142") == [maria]
        assert ids("mo778812") == [maria]
        assert ids("999-999-9999") == []
    with transaction(network) as s:
        events = _audit(s, "client_searched")
        assert len(events) == 10
        assert events[0].detail == {"searched_by": ["name"], "client_ids": [maria]}
        assert events[3].detail["searched_by"] == ["name", "birth_date"]
        assert {e.channel for e in events} == {"api"}


def test_search_is_for_coordinators_and_needs_words(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    error = _refused(
        network,
        lambda s: clients.search_clients(s, actor=as_staff(s, DANA), text="smith", channel=API),
    )
    assert isinstance(error, Forbidden)
    error = _refused(
        network,
        lambda s: clients.search_clients(s, actor=as_staff(s, COORD), text="  ", channel=API),
    )
    assert isinstance(error, InvalidInput)
    assert error.field == "q"


def test_a_likely_duplicate_is_shown_with_the_fields_that_matched(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with transaction(network) as s:
        first = new_client(
            s,
            first_name="José",
            last_name="Pérez Ramírez",
            birth_date=date(1972, 11, 30),
            address="12 Main Street",
            phone="999-999-9999",
        )
    error = _refused(
        network,
        lambda s: new_client(
            s,
            first_name="jose",
            last_name="PEREZ-RAMIREZ",
            birth_date=date(1972, 11, 30),
            address="12 Main St.",
            phone="999-999-9999",
        ),
    )
    assert isinstance(error, clients.DuplicateClient)
    assert [(m.client_id, m.fields) for m in error.matches] == [
        (first, ["first_name", "last_name", "birth_date", "address"])
    ]
    assert error.field == "client"


def test_creating_anyway_records_that_it_is_a_different_person(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with transaction(network) as s:
        first = new_client(
            s, first_name="Ann", last_name="Lee", birth_date=date(1980, 5, 5), phone="573-555-0100"
        )
    same = {
        "first_name": "Ann",
        "last_name": "Lee",
        "birth_date": date(1980, 5, 5),
        "phone": "5735550100",
    }
    with transaction(network) as s:
        second = clients.create_client(
            s, actor=as_staff(s, COORD), data=same, channel=Channel.WEB, different_from=[first]
        ).id
    with transaction(network) as s:
        [event] = _audit(s, "client_declared_different")
        assert (event.client_id, event.channel, event.actor_id) == (
            second,
            "web",
            as_staff(s, COORD).staff_id,
        )
        assert event.detail == {
            "other_client_id": first,
            "matched": ["first_name", "last_name", "birth_date", "phone"],
        }
    # A third record must answer for both earlier ones.
    error = _refused(
        network,
        lambda s: clients.create_client(
            s, actor=as_staff(s, COORD), data=same, channel=API, different_from=[first]
        ),
    )
    assert isinstance(error, clients.DuplicateClient)
    assert [m.client_id for m in error.matches] == [second]


def test_the_same_external_id_is_a_duplicate_whatever_the_name(
    network: sessionmaker[Session],
) -> None:
    with transaction(network) as s:
        first = new_client(s, first_name="Katherine", last_name="Nguyen", external_id="MO-123456")
    error = _refused(
        network,
        lambda s: new_client(s, first_name="Kathy", last_name="Win", external_id="mo 123456"),
    )
    assert isinstance(error, clients.DuplicateClient)
    assert error.match_id == first
    assert error.matches[0].fields == ["external_id"]


# --- consent -----------------------------------------------------------------------------------


def _consent(**fields: object) -> dict[str, object]:
    return {
        "programs": ["heartland-res"],
        "info_types": ["demographics", "service needs"],
        "signed_by": "Pat Example",
        "signer_is_guardian": True,
        "method": "uploaded scan",
        "reference": "DOC-2026-0042",
        **fields,
    }


def test_consent_signed_last_month_is_valid_a_year_from_signing(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    _consent_required(network)
    with transaction(network) as s:
        client_id = new_client(s)
        consent = clients.sign_consent(
            s,
            actor=as_staff(s, COORD),
            data=_consent(client_id=client_id, signed_on=date(2026, 2, 1)),
            channel=Channel.WEB,
        )
        assert consent.signed_at.date() == date(2026, 2, 1)
        assert consent.expires_on == date(2027, 2, 1)
        assert consent.reference == "DOC-2026-0042"
        assert consent.active_on(date(2026, 3, 2))
    number = published(network, client_id=client_id, needs=["RES", "DAY"])
    with transaction(network) as s:
        assert sorted(recipients(s, number)) == ["heartland-res"]
        [event] = _audit(s, "consent_signed")
        assert event.detail["signed_on"] == "2026-02-01"
        assert event.detail["method"] == "uploaded scan"


def test_consent_for_any_participating_program(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    _consent_required(network)
    with transaction(network) as s:
        client_id = new_client(s)
        clients.sign_consent(
            s,
            actor=as_staff(s, COORD),
            data=_consent(
                client_id=client_id, programs=[], any_program=True, method="code by text message"
            ),
            channel=API,
        )
    number = published(network, client_id=client_id, needs=["RES", "DAY"])
    with transaction(network) as s:
        assert sorted(recipients(s, number)) == ["heartland-day", "heartland-res"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"signed_on": date(2025, 2, 1)}, "signed_on", "expired on 2026-02-01"),
        ({"signed_on": date(2026, 3, 3)}, "signed_on", "is in the future"),
        ({"reference": None}, "reference", "scan is kept"),
        ({"programs": []}, "programs", "which programs"),
        ({"any_program": True}, "programs", "not both"),
        ({"programs": ["nowhere"]}, "programs", "not a program"),
        ({"method": "fax"}, "method", "method"),
    ],
)
def test_bad_consent_is_refused_naming_the_field(
    network: sessionmaker[Session],
    as_staff: AsStaff,
    fields: dict[str, object],
    field: str,
    message: str,
) -> None:
    with transaction(network) as s:
        client_id = new_client(s)
    error = _refused(
        network,
        lambda s: clients.sign_consent(
            s, actor=as_staff(s, COORD), data=_consent(client_id=client_id, **fields), channel=API
        ),
    )
    assert isinstance(error, InvalidInput)
    assert error.field == field
    assert message in error.message
    with transaction(network) as s:
        assert s.scalars(select(Consent)).all() == []


# --- preview and the zero-recipient refusal ------------------------------------------------------


def test_the_preview_names_receiving_and_refused_programs_with_reasons(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with transaction(network) as s:
        number = draft(s, needs=["RES", "HSG"], exclude_programs=["river-hsg"])
        s.scalar(select(Program).where(Program.key == "heartland-res")).suspended = True  # type: ignore[union-attr]
    with transaction(network) as s:
        preview = preview_referral(s, actor=as_staff(s, COORD), number=number)
        assert [line.key for line in preview.receiving] == []
        assert [(line.key, line.reason, line.why) for line in preview.refused] == [
            ("heartland-res", Refusal.SUSPENDED, "in no-referral status"),
            ("ozark-rsp", Refusal.COUNTY, "does not serve the referral's counties"),
            ("river-hsg", Refusal.EXCLUDED, "excluded by family preference"),
        ]
        # Programs offering none of the needs were never candidates: not listed.
        shown = {line.key for line in preview.refused}
        assert not shown & {"heartland-day", "ozark-beh"}
    error = _refused(
        network,
        lambda s: referrals.publish_referral(
            s, actor=as_staff(s, COORD), number=number, channel=API
        ),
    )
    assert isinstance(error, NoRecipients)
    assert error.message == (
        f"{number} cannot be published: no program would receive it (Heartland Residential: "
        "in no-referral status; Ozark Respite: does not serve the referral's counties; "
        "River Housing: excluded by family preference)."
    )
    assert error.hint == (
        "To reach one: add one of the program's counties, or make the referral statewide; "
        "or lift the family's exclusion."
    )
    with transaction(network) as s:
        referral = s.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None and referral.state == ReferralState.DRAFT
        assert s.scalars(select(OutboxMessage)).all() == []


def test_no_program_offering_the_need_is_refused_naming_the_needs(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with transaction(network) as s:
        number = draft(s, needs=["EMP"])
    error = _refused(
        network,
        lambda s: referrals.publish_referral(
            s, actor=as_staff(s, COORD), number=number, channel=API
        ),
    )
    assert isinstance(error, NoRecipients)
    assert error.field == "needs"
    assert error.message == (
        f"{number} cannot be published: no program in the directory offers EMP."
    )


def test_the_preview_lists_programs_never_clients(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with transaction(network) as s:
        client_id = new_client(s, first_name="Zebedee", last_name="Quinlan")
        number = draft(s, client_id=client_id)
        preview = preview_referral(s, actor=as_staff(s, COORD), number=number)
        assert "Zebedee" not in repr(preview) and "Quinlan" not in repr(preview)
        assert [line.key for line in preview.receiving] == ["heartland-res"]
    error = _refused(network, lambda s: preview_referral(s, actor=as_staff(s, DANA), number=number))
    assert isinstance(error, Forbidden)


# --- capacity ----------------------------------------------------------------------------------


def test_capacity_is_shown_and_a_full_program_is_warned_before_sending(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with transaction(network) as s:
        result = programs.set_capacity(
            s,
            actor=as_staff(s, GK_HOME),
            program="heartland-res",
            change={"status": "no capacity", "until": date(2026, 4, 30)},
            channel=Channel.SLACK,
        )
        assert result.summary == (
            "Heartland Residential now has no capacity (since 2026-03-02, until 2026-04-30)."
        )
        number = draft(s, needs=["RES", "DAY"])
    with transaction(network) as s:
        [event] = _audit(s, "capacity_set")
        assert (event.channel, event.detail["status"]) == ("slack", "no capacity")
        preview = preview_referral(s, actor=as_staff(s, COORD), number=number)
        assert [(line.key, line.capacity, line.no_capacity) for line in preview.receiving] == [
            ("heartland-day", None, False),
            ("heartland-res", "no capacity (since 2026-03-02, until 2026-04-30)", True),
        ]
        listing = programs.find_programs(s, actor=as_staff(s, COORD), need="RES", county="Boone")
        assert [(p.key, p.capacity) for p in listing] == [
            ("heartland-res", "no capacity (since 2026-03-02, until 2026-04-30)")
        ]
    error = _refused(
        network,
        lambda s: referrals.publish_referral(
            s, actor=as_staff(s, COORD), number=number, channel=API
        ),
    )
    assert isinstance(error, NoCapacity)
    assert error.field == "confirm_no_capacity"
    assert "Heartland Residential: no capacity" in error.message
    with transaction(network) as s:
        referrals.publish_referral(
            s, actor=as_staff(s, COORD), number=number, channel=API, confirm_no_capacity=True
        )
    with transaction(network) as s:
        assert sorted(recipients(s, number)) == ["heartland-day", "heartland-res"]


def test_a_waitlist_and_who_may_set_capacity(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    error = _refused(
        network,
        lambda s: programs.set_capacity(
            s,
            actor=as_staff(s, DANA),
            program="heartland-res",
            change={"status": "open"},
            channel=API,
        ),
    )
    assert isinstance(error, Forbidden)
    error = _refused(
        network,
        lambda s: programs.set_capacity(
            s,
            actor=as_staff(s, GK_HOME),
            change={"status": "waitlist", "waitlist": 12},
            channel=API,
        ),
    )
    assert isinstance(error, InvalidInput)
    assert error.field == "program"  # Grace keeps two programs' gates
    error = _refused(
        network,
        lambda s: programs.set_capacity(
            s,
            actor=as_staff(s, GK_HOME),
            program="heartland-day",
            change={"status": "waitlist"},
            channel=API,
        ),
    )
    assert error.field == "waitlist"
    with transaction(network) as s:
        result = programs.set_capacity(
            s,
            actor=as_staff(s, GK_HOME),
            program="heartland-day",
            change={"status": "waitlist", "waitlist": 12},
            channel=API,
        )
        assert result.capacity == "waitlist of 12 (since 2026-03-02)"
        again = programs.set_capacity(
            s,
            actor=as_staff(s, GK_HOME),
            program="heartland-day",
            change={"status": "waitlist", "waitlist": 12},
            channel=API,
        )
        assert not again.changed
    with transaction(network) as s:
        assert len(_audit(s, "capacity_set")) == 1


def test_a_capacity_past_its_until_is_no_longer_stated(
    network: sessionmaker[Session], as_staff: AsStaff, clock: object
) -> None:
    with transaction(network) as s:
        programs.set_capacity(
            s,
            actor=as_staff(s, GK_OZARK),
            program="ozark-beh",
            change={"status": "no capacity", "until": date(2026, 3, 3)},
            channel=API,
        )
    clock.advance(days=2)  # type: ignore[attr-defined]
    with transaction(network) as s:
        [listing] = programs.find_programs(s, actor=as_staff(s, COORD), need="BEH", county="Cole")
        assert (listing.capacity, listing.no_capacity) == (None, False)


# --- edit, re-publish, delete -----------------------------------------------------------------


def test_editing_the_counties_and_republishing_moves_the_referral(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network, needs=["RES"], counties=["Boone County"])
    with transaction(network) as s:
        before = len(sent(s))
        revision = revise_referral(
            s,
            actor=as_staff(s, COORD),
            number=number,
            edit={"counties": ["Greene County"]},
            channel=Channel.WEB,
        )
        assert revision.changed == ["counties"]
        assert revision.published is not None
        assert (revision.published.joined, revision.published.left) == (
            ["Ozark Respite"],
            ["Heartland Residential"],
        )
    with transaction(network) as s:
        assert sorted(recipients(s, number)) == ["ozark-rsp"]
        told = sent(s, "referral_republished")
        assert ("referral_republished", GK_OZARK) in told
        assert len(sent(s)) > before


def test_a_lifted_exclusion_is_told_at_republish(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(
        network, needs=["RES"], statewide=True, counties=[], exclude_programs=["heartland-res"]
    )
    with transaction(network) as s:
        assert sorted(recipients(s, number)) == ["ozark-rsp"]
        revise_referral(
            s, actor=as_staff(s, COORD), number=number, edit={"exclude_programs": []}, channel=API
        )
    with transaction(network) as s:
        assert sorted(recipients(s, number)) == ["heartland-res", "ozark-rsp"]
        assert ("referral_republished", GK_HOME) in sent(s)


def test_an_edit_that_would_reach_nobody_changes_nothing(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network, needs=["RES"])
    error = _refused(
        network,
        lambda s: revise_referral(
            s, actor=as_staff(s, COORD), number=number, edit={"counties": ["Jackson"]}, channel=API
        ),
    )
    assert isinstance(error, NoRecipients)
    assert error.field == "counties"
    with transaction(network) as s:
        referral = s.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None and [c.name for c in referral.counties] == ["Boone County"]


def test_delete_needs_a_reason_and_keeps_it_out_of_messages(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    number = published(network)
    error = _refused(
        network,
        lambda s: referrals.delete_referral(
            s, actor=as_staff(s, COORD), number=number, channel=API, reason="  "
        ),
    )
    assert isinstance(error, InvalidInput)
    assert error.field == "reason"
    with transaction(network) as s:
        referrals.delete_referral(
            s, actor=as_staff(s, COORD), number=number, channel=API, reason="family moved away"
        )
    with transaction(network) as s:
        referral = s.scalar(select(Referral).where(Referral.number == number))
        assert referral is not None
        assert (referral.state, referral.deleted_reason) == (
            ReferralState.DELETED,
            "family moved away",
        )
        [event] = _audit(s, "referral_deleted")
        assert event.detail["reason"] == "family moved away"
        deleted = s.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "referral_deleted")
        ).all()
        assert deleted
        assert all("moved away" not in str(row.payload) for row in deleted)


def test_program_lookup_by_service_and_county(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:
    with transaction(network) as s:
        s.scalar(select(Program).where(Program.key == "ozark-beh")).suspended = True  # type: ignore[union-attr]
    with transaction(network) as s:
        dana = as_staff(s, DANA)
        boone_res = programs.find_programs(s, actor=dana, need="res", county="Boone County")
        assert [p.key for p in boone_res] == ["heartland-res"]
        [beh] = programs.find_programs(s, actor=dana, need="BEH")
        assert (beh.suspended, beh.all_counties, beh.mou_valid, beh.receives) == (
            True,
            True,
            True,
            False,
        )
        assert [p.key for p in programs.find_programs(s, actor=dana, county="29095")] == [
            "ozark-beh",
            "river-hsg",
        ]
    error = _refused(
        network, lambda s: programs.find_programs(s, actor=as_staff(s, DANA), need="ZZZ")
    )
    assert error.field == "need"


def test_the_region_digest_shows_stated_capacity(
    network: sessionmaker[Session], as_staff: AsStaff
) -> None:

    with transaction(network) as s:
        programs.set_capacity(
            s,
            actor=as_staff(s, GK_HOME),
            program="heartland-res",
            change={"status": "waitlist", "waitlist": 4},
            channel=API,
        )
        programs.set_capacity(
            s,
            actor=as_staff(s, GK_OZARK),
            program="ozark-rsp",
            change={"status": "no capacity"},
            channel=API,
        )
    with transaction(network) as s:
        text = digest_text_for_channel(s, channel="C0CENTRAL")
    # Central is Boone and Cole: Ozark Respite serves Greene only and is not listed.
    assert text.endswith(
        "Program capacity as stated by their gatekeepers (1):\n"
        "  Heartland Residential: waitlist of 4 (since 2026-03-02)"
    )
