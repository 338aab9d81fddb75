"""The emails closeloop writes back to a person who replied: a confirmation, or why not."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from bot.context import settings_of, today
from bot.notify import HELD_ROWS, enqueue, enqueue_many, finish_keys, outbox_row
from bot.services.verbs import Applied
from storage.models import Staff

CONFIRMATION = "email_confirmation"
ERROR = "email_error"
_MAX_KEY = 255


def answer_channel(session: Session) -> str:
    """Email when SMTP is configured, else the console that stands in for it."""
    return "email" if "email" in settings_of(session).notify_channels else "console"


def confirm(
    session: Session,
    *,
    staff: Staff,
    message_key: str,
    result: Applied,
    referral_id: int | None,
    line: str,
    in_reply_to: str | None,
) -> bool:
    """What was recorded (or that nothing changed), threaded under the person's reply."""
    return _answer(
        session,
        key=f"{CONFIRMATION}:{message_key}",
        kind=CONFIRMATION,
        staff=staff,
        referral_id=referral_id,
        payload={
            "number": result.number,
            "summary": result.summary,
            "changed": result.changed,
            "line": line,
            "in_reply_to": in_reply_to,
        },
    )


def explain(
    session: Session,
    *,
    staff: Staff,
    reason: str,
    why: str,
    hint: str | None,
    line: str,
    read_as: str | None,
    number: str | None,
    referral_id: int | None,
    in_reply_to: str | None,
) -> bool:
    """Why a reply was not applied. At most one per sender, kind of error and day (the key), so
    a person or a broken mail system sending the same mistake in a loop gets one answer."""
    sender = staff.email.lower()
    key = f"{ERROR}:{sender}:{reason}:{today(session).isoformat()}"
    if len(key) > _MAX_KEY:
        digest = hashlib.sha256(sender.encode()).hexdigest()[:32]
        key = f"{ERROR}:{digest}:{reason}:{today(session).isoformat()}"
    return _answer(
        session,
        key=key,
        kind=ERROR,
        staff=staff,
        referral_id=referral_id,
        payload={
            "number": number,
            "reason": reason,
            "why": why,
            "hint": hint,
            "line": line,
            "read_as": read_as,
            "in_reply_to": in_reply_to,
        },
    )


@contextmanager
def outbox_held(session: Session) -> Iterator[list[dict[str, Any]]]:
    """Write the notifications of the use cases run in the block and their confirmations in one
    INSERT when it ends (in order: each use case's, then its answer), instead of one each: a
    reply's, or a whole batch's. The use cases' changes and audit events wait for the same
    moment (`bot.audit.record`): one flush, since the events' ids are first needed there, as
    the rows' keys. Nothing is written when the block raises: its savepoint, or the batch, goes
    back. Yields the rows held so far."""
    held: list[dict[str, Any]] = []
    session.info[HELD_ROWS] = held
    try:
        yield held
    finally:
        del session.info[HELD_ROWS]
    session.flush()  # the use cases' changes and audit events: the events' ids are the keys'
    finish_keys(held)
    enqueue_many(session, held)


def _answer(
    session: Session,
    *,
    key: str,
    kind: str,
    staff: Staff,
    referral_id: int | None,
    payload: dict[str, Any],
) -> bool:
    """True when the answer was added. A confirmation is added to the rows held, if any
    (`outbox_held`): its key is its message's, which no row has, or the ledger would have
    filed the message as seen, so it will be added too."""
    fields: dict[str, Any] = {
        "key": key,
        "channel": answer_channel(session),
        "kind": kind,
        "address": staff.email,
        "staff_id": staff.id,
        "referral_id": referral_id,
        "payload": {**payload, "recipient_name": staff.name},
    }
    held: list[dict[str, Any]] | None = session.info.get(HELD_ROWS)
    if held is not None and kind == CONFIRMATION:
        held.append(outbox_row(session, **fields))
        return True
    return enqueue(session, **fields)
