"""The audit trail: every change and every read of client data, in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.activity import TOUCH_EVERY
from bot.context import now
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.notify import HELD_ROWS
from storage.models import AuditEvent, Staff


def record(
    session: Session,
    *,
    actor: Actor | None,
    channel: Channel | str,
    action: str,
    referral_id: int | None = None,
    program_id: int | None = None,
    client_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    event = AuditEvent(
        at=now(session),
        actor_id=actor.staff_id if actor else None,
        channel=str(channel),
        action=action,
        referral_id=referral_id,
        program_id=program_id,
        client_id=client_id,
        detail=detail,
    )
    session.add(event)
    if actor is not None:
        # Access hygiene counts days without use: any recorded action is use. Set on the row
        # itself (loaded already on every channel), so a savepoint rolled back forgets it too;
        # like `touch`, at most every 15 minutes (a batch of replies: not an UPDATE each).
        staff = session.get(Staff, actor.staff_id)
        if staff is not None:
            last = staff.last_active_at
            if last is None or last < event.at - TOUCH_EVERY:
                staff.last_active_at = event.at
    # The event's id is the key of the outbox rows it causes. While a caller holds those rows
    # (handlers/email/answers.outbox_held), it flushes when it writes them: a batch of replies
    # flushes once, not once per reply.
    if HELD_ROWS not in session.info:
        session.flush()
    return event
