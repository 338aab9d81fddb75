"""Links a Slack user to a staff member by the email on their Slack profile, with a cache."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.actors import staff_by_email
from bot.errors import Forbidden
from storage.models import Staff

# Slack profiles change rarely; a day bounds how long a changed email keeps acting as the old one.
LINK_TTL = timedelta(days=1)
ASK_WHO = "Ask your agency's security officer or a network admin to add you to closeloop."


class NotLinked(Forbidden):
    """The Slack user is nobody closeloop knows."""


def not_linked(email: str | None) -> NotLinked:
    if not email:
        return NotLinked(
            "Your Slack account is not linked to closeloop: your Slack profile shows no email "
            "address.",
            hint=ASK_WHO,
        )
    return NotLinked(
        "Your Slack account is not linked to closeloop: no staff member has the email "
        f"address on your Slack profile ({email}).",
        hint=ASK_WHO,
    )


def cached_staff(session: Session, user_id: str, moment: datetime, ttl: timedelta) -> Staff | None:
    """The staff member linked to `user_id`, if the link was checked within `ttl`.

    A link to an inactive row is treated as stale: the row may have been replaced by a new
    one with the same email, which the next check finds.
    """
    staff = session.scalar(select(Staff).where(Staff.slack_user_id == user_id))
    if staff is None or not staff.active or staff.slack_checked_at is None:
        return None
    if moment - staff.slack_checked_at > ttl:
        return None
    return staff


def link(session: Session, user_id: str, email: str | None, moment: datetime) -> Staff | None:
    """Record that `user_id` is the staff member with `email` (None when nobody is)."""
    previous = session.scalar(select(Staff).where(Staff.slack_user_id == user_id))
    match = staff_by_email(session, email) if email else None
    if previous is not None and previous is not match:
        previous.slack_user_id = None
        previous.slack_checked_at = None
        # The column is unique: the old link must be gone before the new one is written.
        session.flush()
    if match is None:
        return None
    match.slack_user_id = user_id
    match.slack_checked_at = moment
    return match
