"""API bearer tokens: issued to a staff member, shown once, stored as a sha256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.actors import staff_by_email
from bot.context import now
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


def issue_token(session: Session, *, email: str) -> str:
    """A new token for the staff member; the returned secret is the only copy there will be."""
    staff = _staff(session, email)
    secret = PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(staff_id=staff.id, token_hash=token_hash(secret), created_at=now(session)))
    session.flush()
    return secret


def revoke_tokens(session: Session, *, email: str) -> int:
    """Revoke every live token of the staff member; returns how many there were."""
    staff = _staff(session, email)
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.staff_id == staff.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now(session))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def staff_for_token(session: Session, secret: str) -> Staff | None:
    """The staff member a live token belongs to (and the token's use is noted), or None."""
    token = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == token_hash(secret), ApiToken.revoked_at.is_(None)
        )
    )
    if token is None:
        return None
    token.last_used_at = now(session)
    return session.get(Staff, token.staff_id)


def removed_staff_for_token(session: Session, secret: str) -> Staff | None:
    """The staff member of a revoked token whose access was removed (tokens go with it), so
    the caller is told that rather than "unknown token"; None otherwise."""
    staff = session.scalar(
        select(Staff)
        .join(ApiToken, ApiToken.staff_id == Staff.id)
        .where(ApiToken.token_hash == token_hash(secret), ApiToken.revoked_at.is_not(None))
    )
    return staff if staff is not None and not staff.active else None
