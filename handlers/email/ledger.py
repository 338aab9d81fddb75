"""Bookkeeping of inbound email by Message-ID: what each message became, so none counts twice."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.context import now
from storage.models import InboundEmail


@dataclass(frozen=True)
class FiledAs:
    """What became of one inbound message: its IMAP folder ("processed" or "rejected") and why."""

    folder: str
    reason: str
    staff_id: int | None = None
    referral_id: int | None = None


def message_key(message_id: str | None, raw: bytes) -> str:
    """The Message-ID's digest; a message without one is known by its bytes instead."""
    if message_id:
        return hashlib.sha256(message_id.strip().encode("utf-8", "replace")).hexdigest()
    return hashlib.sha256(b"raw:" + raw).hexdigest()


def outcomes_of(session: Session, keys: Sequence[str]) -> dict[str, str]:
    """The folder each of `keys` was filed in, for the messages already recorded (one query)."""
    if not keys:
        return {}
    rows = session.execute(
        select(InboundEmail.message_key, InboundEmail.outcome).where(
            InboundEmail.message_key.in_(set(keys))
        )
    )
    return {key: outcome for key, outcome in rows}


def record(
    session: Session,
    *,
    key: str,
    message_id: str | None,
    from_address: str | None,
    kind: str,
    outcome: FiledAs,
) -> dict[str, Any]:
    """The ledger row of one message, as column values: added to the session (the careful way,
    flushed with the reply's other rows in its savepoint, where a duplicate key fails) or
    written with the batch's others in one INSERT."""
    return {
        "message_key": key,
        "message_id": (message_id or "")[:255] or None,
        "from_address": (from_address or "")[:254] or None,
        "kind": kind[:16],
        "outcome": outcome.folder,
        "reason": outcome.reason,
        "staff_id": outcome.staff_id,
        "referral_id": outcome.referral_id,
        "received_at": now(session),
    }
