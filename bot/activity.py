"""What counts as use for the idle rule: every signed-in or linked request, on any channel."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from bot.context import now
from storage.models import Staff

# The time of use is written at most this often per person: a page view or a Slack visit
# is not a database write each time.
TOUCH_EVERY = timedelta(minutes=15)


def touch(session: Session, staff_id: int) -> None:
    """A web page view, a Slack command or App Home visit, an email reply, an API call: the
    idle rule counts days from the last one (changes are counted by the audit trail too)."""
    moment = now(session)
    session.execute(
        update(Staff)
        .where(
            Staff.id == staff_id,
            or_(Staff.last_active_at.is_(None), Staff.last_active_at < moment - TOUCH_EVERY),
        )
        .values(last_active_at=moment)
        .execution_options(synchronize_session=False)
    )
