"""The idle rule on a network silent for 120 days: warnings first (to the person and their
officer), then removal through the one revocation, bounded, never the last admin or officer;
any use (here: resolving the person on a channel) keeps access."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_by_email
from bot.services import idle
from bot.services.directory import import_directory, parse_directory
from storage.db import transaction
from storage.models import ApiToken, AuditEvent, OutboxMessage, RoleGrant, Staff
from tests.conftest import Clock
from tests.network import ADMIN, DANA, OFFICER, small_network

EXTRA = [f"helper{i:02d}@river.example.org" for i in range(29)]  # 11 + 29 = 40 people


def _silent_network(sessions: sessionmaker[Session]) -> None:
    data = small_network()
    for email in EXTRA:
        data["staff"].append(
            {
                "email": email,
                "name": email.split("@")[0].title(),
                "agency": "river",
                "user_mou_signed_on": "2026-01-05",
                "roles": [{"role": "provider", "program": "river-hsg"}],
            }
        )
    with transaction(sessions) as session:
        import_directory(session, directory=parse_directory(data, source="net"), source="net")


def _active(sessions: sessionmaker[Session]) -> set[str]:
    with transaction(sessions) as session:
        return set(session.scalars(select(Staff.email).where(Staff.active.is_(True))))


def _outbox(sessions: sessionmaker[Session], kind: str) -> list[OutboxMessage]:
    with transaction(sessions) as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


def test_a_network_silent_for_120_days_is_warned_then_removed_a_tenth_at_a_time(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    _silent_network(sessions)
    everyone = _active(sessions)
    assert len(everyone) == 40

    clock.advance(days=120)
    with transaction(sessions) as session:
        idle.idle_staff(session)
    # Nobody is removed: everyone is warned, and each person's officer hears of them.
    assert _active(sessions) == everyone
    warnings = _outbox(sessions, "access_idle_warning")
    to_themselves = {m.address for m in warnings if "person" not in m.payload}
    assert to_themselves == everyone
    about_dana = [
        (m.address, m.payload["removal_on"]) for m in warnings if m.payload.get("email") == DANA
    ]
    assert about_dana == [(OFFICER, "2026-07-14")]
    with transaction(sessions) as session:
        idle.idle_staff(session)  # a second clock, or a restart: nobody is warned twice
    assert len(_outbox(sessions, "access_idle_warning")) == len(warnings)

    # Dana uses closeloop (any channel resolves her through actor_for) after the warning.
    clock.advance(days=5)
    with transaction(sessions) as session:
        actor_by_email(session, DANA)

    clock.advance(days=9)  # fourteen days after the warnings
    with transaction(sessions) as session:
        idle.idle_staff(session)
    with transaction(sessions) as session:
        idle.idle_staff(session)  # the same day again: the bound counts the first run
    gone = everyone - _active(sessions)
    # 40 people: at most 4 a run. The admin, Heartland's only officer and Dana stay.
    assert len(gone) == 4
    assert {ADMIN, OFFICER, DANA} <= _active(sessions)
    with transaction(sessions) as session:
        for email in gone:
            person = session.scalar(select(Staff).where(Staff.email == email))
            assert person is not None and person.access_removed_at == clock.now
            # The same revocation as an officer's: roles and tokens revoked too.
            assert not session.scalars(
                select(RoleGrant).where(
                    RoleGrant.staff_id == person.id, RoleGrant.revoked_at.is_(None)
                )
            ).all()
            assert not session.scalars(
                select(ApiToken).where(
                    ApiToken.staff_id == person.id, ApiToken.revoked_at.is_(None)
                )
            ).all()
        audited = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "access_removed_idle")
        ).all()
        assert len(audited) == 4
    assert {m.address for m in _outbox(sessions, "access_removed")} == gone
    held = _outbox(sessions, "access_idle_held")
    assert [(m.address, m.payload["removed_count"], m.payload["held_count"]) for m in held] == [
        (ADMIN, 4, 33)
    ]
    assert set(held[0].payload["held"]) == everyone - gone - {ADMIN, OFFICER, DANA}

    # The next day, another bounded share.
    clock.advance(days=1)
    with transaction(sessions) as session:
        idle.idle_staff(session)
    assert len(everyone - _active(sessions)) == 4 + 3  # a tenth of the 36 left
    assert {ADMIN, OFFICER, DANA} <= _active(sessions)
