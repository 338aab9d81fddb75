"""Small steps the service tests repeat: a client, a published referral, what the outbox holds."""

from __future__ import annotations

from datetime import date
from itertools import count
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.actors import actor_by_email
from bot.domain.vocab import Channel
from bot.services import clients, referrals
from storage.db import transaction
from storage.models import OutboxMessage, Recipient, Referral
from tests.network import COORD

_names = count(1)


def new_client(session: Session, by: str = COORD, **fields: Any) -> int:
    n = next(_names)
    data = {
        "first_name": f"Client{n}",
        "last_name": "Example",
        "birth_date": date(1990, 1, 1 + n % 28),
        "phone": f"573-555-{n:04d}",
        **fields,
    }
    return clients.create_client(
        session, actor=actor_by_email(session, by), data=data, channel=Channel.API
    ).id


def draft(session: Session, by: str = COORD, **fields: Any) -> str:
    client_id = fields.pop("client_id", None) or new_client(session, by)
    data = {
        "client_id": client_id,
        "facility_code": "CMO",
        "needs": ["RES"],
        "counties": ["Boone County"],
        **fields,
    }
    referral = referrals.create_referral(
        session, actor=actor_by_email(session, by), draft=data, channel=Channel.API
    )
    assert referral.number is not None
    return referral.number


def published(sessions: sessionmaker[Session], by: str = COORD, **fields: Any) -> str:
    with transaction(sessions) as session:
        number = draft(session, by, **fields)
        referrals.publish_referral(
            session, actor=actor_by_email(session, by), number=number, channel=Channel.API
        )
    return number


def sent(session: Session, kind: str | None = None) -> list[tuple[str, str]]:
    """(kind, address) of every outbox row, in order."""
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return [(row.kind, row.address) for row in session.scalars(query)]


def recipients(session: Session, number: str) -> dict[str, Recipient]:
    referral = session.scalar(select(Referral).where(Referral.number == number))
    assert referral is not None
    return {r.program.key: r for r in referral.recipients if r.active}
