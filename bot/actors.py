"""Finding staff and turning them into the Actor the rules reason about."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.activity import TOUCH_EVERY, touch
from bot.context import now, settings_of, today
from bot.domain.permissions import Actor, Grant, require_may_act
from bot.errors import NotFound
from storage.models import RoleGrant, Staff


def actor_for(
    session: Session,
    staff: Staff,
    *,
    check: bool = True,
    grants: Sequence[RoleGrant] | None = None,
) -> Actor:
    """The staff member as an Actor with their current (unrevoked) roles.

    With `check`, an inactive account or a lapsed user MOU is refused here, so no channel can
    forget it. `grants` are their unrevoked grants when the caller has read them already in
    this transaction (a batch of email replies reads everyone's at once).
    """
    if grants is None:
        grants = session.scalars(
            select(RoleGrant).where(RoleGrant.staff_id == staff.id, RoleGrant.revoked_at.is_(None))
        ).all()
    removed = staff.access_removed_at
    actor = Actor(
        staff_id=staff.id,
        name=staff.name,
        email=staff.email,
        active=staff.active,
        user_mou_signed_on=staff.user_mou_signed_on,
        grants=tuple(
            Grant(
                role=g.role, program_id=g.program_id, agency_id=g.agency_id, county_id=g.county_id
            )
            for g in grants
        ),
        removed_on=removed.astimezone(settings_of(session).zone).date() if removed else None,
        agency_id=staff.agency_id,
    )
    if check:
        require_may_act(actor, today(session))
        # Every channel resolves its actor here: this is the one place use is counted. When
        # this transaction has already written a recent use (the audit of an earlier reply of
        # the same batch), touch's conditional UPDATE would change nothing: not sent.
        last = staff.last_active_at
        if last is None or last < now(session) - TOUCH_EVERY:
            touch(session, staff.id)
    return actor


def staff_by_email(session: Session, email: str) -> Staff | None:
    return session.scalar(select(Staff).where(func.lower(Staff.email) == email.strip().lower()))


def actor_by_email(session: Session, email: str) -> Actor:
    staff = staff_by_email(session, email)
    if staff is None:
        raise NotFound(f"No staff member has the address {email}.", field="actor")
    return actor_for(session, staff)


def staff_of(session: Session, actor: Actor) -> Staff:
    staff = session.get(Staff, actor.staff_id)
    if staff is None:  # pragma: no cover - an Actor is only made from a loaded Staff row
        raise NotFound("That staff member no longer exists.")
    return staff
