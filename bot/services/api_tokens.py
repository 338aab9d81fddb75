"""API bearer tokens: issued to a staff member, shown once, stored as a sha256 hash, revocable;
issuing and revoking are audited like every other change."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.actors import staff_by_email
from bot.audit import record
from bot.context import now
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.errors import NotFound
from storage.models import ApiToken, Staff

PREFIX = "cl_"


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _staff(session: Session, email: str) -> Staff:
    staff = staff_by_email(session, email)
    if staff is None:
        raise NotFound(f"No staff member has the address {email}.", field="staff")
    return staff


def issue_token(
    session: Session, *, email: str, actor: Actor | None = None, channel: Channel = Channel.CLI
) -> str:
    """A new token for the staff member; the returned secret is the only copy there will be.
    `actor` is None when an operator runs the CLI on the server."""
    staff = _staff(session, email)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(staff_id=staff.id, token_hash=token_hash(secret), created_at=now(session))
    session.add(token)
    session.flush()
    record(session, actor=actor, channel=channel, action="api_token_issued", staff=staff.email)
    return secret


def revoke_tokens(
    session: Session, *, email: str, actor: Actor | None = None, channel: Channel = Channel.CLI
) -> int:
    """Revoke every live token of the staff member; returns how many there were."""
    staff = _staff(session, email)
    count = revoke_all(session, staff, now(session))
    record(
        session,
        actor=actor,
        channel=channel,
        action="api_tokens_revoked",
        staff=staff.email,
        count=count,
    )
    return count


def revoke_all(session: Session, staff: Staff, moment: datetime) -> int:
    """Every live token of `staff` revoked at `moment` (also when their access is removed)."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.staff_id == staff.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=moment)
    )
    return int(getattr(result, "rowcount", 0) or 0)
