"""The idle rule against the database: warn, then remove through the one revocation, within a
bound, never the last admin or an agency's last security officer; and what counts as use."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from bot.context import now, settings_of
from bot.domain.idle import IDLE_DAYS, WARN_DAYS, Person, plan_idle
from bot.domain.vocab import Channel, Role
from bot.notify import holding, network_admins, tell
from bot.services.access import remove_access
from storage.models import AuditEvent, RoleGrant, Staff


def _tell(
    session: Session, people: list[Staff], *, key: str, kind: str, payload: dict[str, Any]
) -> int:
    return sum(
        tell(session, person, key=f"{key}:s{person.id}", kind=kind, payload=payload)
        for person in people
    )


def _officers(session: Session, agency_id: int | None) -> list[Staff]:
    """Whom to tell about a person: their agency's active security officers, else the admins."""
    found: list[Staff] = []
    if agency_id is not None:
        found = holding(session, Role.SECURITY_OFFICER, RoleGrant.agency_id == agency_id)
    return found or network_admins(session)


def idle_staff(session: Session) -> int:
    """The daily job: warn people 14 days before their access would go, then remove it (the
    same revocation as a security officer's), at most a bounded share of the network in a run."""
    moment = now(session)
    active = list(session.scalars(select(Staff).where(Staff.active.is_(True)).order_by(Staff.id)))
    roles: dict[int, list[RoleGrant]] = defaultdict(list)
    for grant in session.scalars(
        select(RoleGrant).where(
            RoleGrant.revoked_at.is_(None),
            RoleGrant.role.in_([Role.ADMIN, Role.SECURITY_OFFICER]),
        )
    ):
        roles[grant.staff_id].append(grant)
    people = [
        Person(
            staff_id=s.id,
            last_use=s.last_active_at or s.created_at,
            warned_at=s.idle_warned_at,
            is_admin=any(g.role == Role.ADMIN for g in roles[s.id]),
            officer_of=frozenset(
                g.agency_id
                for g in roles[s.id]
                if g.role == Role.SECURITY_OFFICER and g.agency_id is not None
            ),
        )
        for s in active
    ]
    zone = settings_of(session).zone
    local = moment.astimezone(zone)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    removed_today = (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "access_removed_idle", AuditEvent.at >= day_start)
        )
        or 0
    )
    plan = plan_idle(people, now=moment, removed_today=removed_today)
    by_id = {s.id: s for s in active}
    written = 0
    removal_day = (moment + timedelta(days=WARN_DAYS)).astimezone(zone).date().isoformat()
    for staff_id in plan.warn:
        person = by_id[staff_id]
        # Two clocks at once: only the one whose UPDATE sets the mark goes on to warn.
        marked = session.execute(
            update(Staff)
            .where(
                Staff.id == staff_id,
                or_(
                    Staff.idle_warned_at.is_(None),
                    Staff.idle_warned_at < func.coalesce(Staff.last_active_at, Staff.created_at),
                ),
            )
            .values(idle_warned_at=moment)
            .returning(Staff.id)
        ).scalar()
        if marked is None:
            continue
        payload = {"days": IDLE_DAYS, "removal_on": removal_day, "public_url": _url(session)}
        key = f"access_idle_warning:p{staff_id}:{moment.date()}"
        written += _tell(session, [person], key=key, kind="access_idle_warning", payload=payload)
        written += _tell(
            session,
            [o for o in _officers(session, person.agency_id) if o.id != staff_id],
            key=key,
            kind="access_idle_warning",
            payload={**payload, "person": person.name, "email": person.email},
        )
    for staff_id in plan.remove:
        person = by_id[staff_id]
        result = remove_access(
            session, person, actor=None, channel=Channel.SCHEDULER, idle_days=IDLE_DAYS
        )
        if not result.changed:
            continue
        written += _tell(
            session,
            [o for o in _officers(session, person.agency_id) if o.id != staff_id],
            key=f"access_removed_idle:p{staff_id}:{moment.date()}",
            kind="access_removed_idle",
            payload={"person": person.name, "email": person.email, "days": IDLE_DAYS},
        )
    if plan.held:
        written += _tell(
            session,
            network_admins(session),
            key=f"access_idle_held:{moment.date()}",
            kind="access_idle_held",
            payload={
                "held": [by_id[i].email for i in plan.held],
                "held_count": len(plan.held),
                "removed_count": len(plan.remove),
                "bound": plan.bound,
                "days": IDLE_DAYS,
            },
        )
    return written


def _url(session: Session) -> str:
    return settings_of(session).public_url.rstrip("/")
