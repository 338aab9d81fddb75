"""Many outbox rows in one statement: each key written once, payloads and defaults as given."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.context import now
from bot.notify import enqueue_many
from storage.db import transaction
from storage.models import OutboxMessage, Staff
from tests.network import GK_HOME


def _row(key: str, staff: Staff, at: object, payload: dict[str, object]) -> dict[str, object]:
    return {
        "key": key,
        "channel": "email",
        "kind": "referral_published",
        "address": staff.email,
        "staff_id": staff.id,
        "referral_id": None,
        "payload": payload,
        "next_attempt_at": at,
        "created_at": at,
    }


def test_rows_are_written_once_per_key_with_their_payloads(
    network: sessionmaker[Session],
) -> None:
    payload = {"number": "R-1", "needs": [{"code": "BEH", "name": "Behaviour"}], "aging": False}
    with transaction(network) as session:
        staff = session.scalars(select(Staff).where(Staff.email == GK_HOME)).one()
        at = now(session)
        enqueue_many(session, [_row("a", staff, at, payload), _row("b", staff, at, {})])
    with transaction(network) as session:
        staff = session.scalars(select(Staff).where(Staff.email == GK_HOME)).one()
        at = now(session)
        enqueue_many(session, [_row("b", staff, at, {"again": True}), _row("c", staff, at, {})])
    with transaction(network) as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.key)).all()
        assert [(r.key, r.payload, r.status, r.attempts) for r in rows] == [
            ("a", payload, "pending", 0),
            ("b", {}, "pending", 0),
            ("c", {}, "pending", 0),
        ]
        assert all(r.address == GK_HOME and r.referral_id is None for r in rows)
