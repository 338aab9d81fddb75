"""Who an API bearer token belongs to (issuing and revoking: bot/services/api_tokens.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.context import now
from bot.services.api_tokens import issue_token, revoke_tokens, token_hash
from storage.models import ApiToken, Staff

__all__ = [
    "issue_token",
    "removed_staff_for_token",
    "revoke_tokens",
    "staff_for_token",
    "token_hash",
]


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
