"""Removing a person's access at once (a security officer of their agency, or an admin), and
giving it back on purpose (`closeloop access restore`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.actors import staff_by_email
from bot.audit import record
from bot.context import local_date, now
from bot.domain.access import require_may_revoke
from bot.domain.permissions import Actor
from bot.domain.vocab import AccessStatus, Channel
from bot.errors import NotFound
from bot.notify import tell
from bot.services.api_tokens import revoke_all
from storage.models import AccessRequest, RoleGrant, Staff


@dataclass(frozen=True)
class RevocationResult:
    staff: str
    email: str
    changed: bool
    removed_at: datetime | None
    roles_revoked: int
    requests_closed: int
    tokens_revoked: int
    summary: str


def revoke_access(
    session: Session,
    *,
    actor: Actor,
    staff_email: str,
    channel: Channel | str,
    reason: str | None = None,
) -> RevocationResult:
    """Remove a person's access at once: the account is made inactive (every channel's actor
    check refuses it from this moment), every role grant and API token is revoked, their
    waiting requests are closed, and they are told."""
    person = staff_by_email(session, staff_email)
    if person is None:
        raise NotFound(
            f"No staff member has the address {staff_email.strip()}.",
            field="staff_email",
            hint="Use the email address they sign in with.",
        )
    require_may_revoke(actor, agency_id=person.agency_id, staff_id=person.id, person=person.name)
    return remove_access(session, person, actor=actor, channel=channel, reason=reason)


def remove_access(
    session: Session,
    person: Staff,
    *,
    actor: Actor | None,
    channel: Channel | str,
    reason: str | None = None,
    idle_days: int | None = None,
) -> RevocationResult:
    """The one revocation, for a security officer's decision and for the idle rule (no actor,
    `idle_days` set) alike: inactive, roles and tokens revoked, requests closed, told."""
    session.refresh(person, with_for_update=True)
    moment = now(session)
    was_active = person.active
    if was_active:
        person.active = False
        person.access_removed_at = moment
    elif person.access_removed_at is None:
        person.access_removed_at = moment
    roles = _count(
        session.execute(
            update(RoleGrant)
            .where(RoleGrant.staff_id == person.id, RoleGrant.revoked_at.is_(None))
            .values(revoked_at=moment)
        )
    )
    tokens = revoke_all(session, person, moment)
    closed = _count(
        session.execute(
            update(AccessRequest)
            .where(
                AccessRequest.staff_id == person.id,
                AccessRequest.status == AccessStatus.PENDING,
            )
            .values(
                status=AccessStatus.DENIED,
                decided_by_id=actor.staff_id if actor else None,
                decided_at=moment,
                note="access removed",
            )
        )
    )
    removed_on = local_date(session, person.access_removed_at or moment).isoformat()
    if not (was_active or roles or tokens or closed):
        return RevocationResult(
            person.name,
            person.email,
            False,
            person.access_removed_at,
            0,
            0,
            0,
            f"{person.name}'s access was already removed on {removed_on}.",
        )
    event = record(
        session,
        actor=actor,
        channel=channel,
        action="access_removed_idle" if idle_days else "access_revoked",
        staff=person.email,
        roles=roles,
        tokens=tokens,
        requests=closed,
        reason=(reason or "").strip() or None,
        **({"days": idle_days} if idle_days else {}),
    )
    if was_active:
        _tell_removed(
            session, person, event_id=event.id, removed_on=removed_on, idle_days=idle_days
        )
    summary = (
        f"{person.name}'s access is removed from now on: {roles} role(s) and {tokens} API "
        f"token(s) revoked" + (f", {closed} waiting request(s) closed" if closed else "") + "."
    )
    return RevocationResult(
        person.name, person.email, True, person.access_removed_at, roles, closed, tokens, summary
    )


def restore_access(session: Session, *, staff_email: str, channel: Channel | str) -> str:
    """An operator gives removed access back (the person's roles return with the next
    directory import, or by asking again). No channel for staff offers this: a removal is
    undone on purpose, by someone with the server's command line, and audited."""
    person = staff_by_email(session, staff_email)
    if person is None:
        raise NotFound(
            f"No staff member has the address {staff_email.strip()}.",
            field="staff",
            hint="Use the email address they sign in with.",
        )
    session.refresh(person, with_for_update=True)
    if person.active and person.access_removed_at is None:
        return f"{person.name} has access; nothing changed."
    removed_at = person.access_removed_at
    person.active = True
    person.access_removed_at = None
    person.last_active_at = now(session)
    record(
        session,
        actor=None,
        channel=channel,
        action="access_restored",
        staff=person.email,
        removed_at=removed_at.isoformat() if removed_at else None,
    )
    return (
        f"{person.name}'s access is restored; their roles return with the next directory "
        "import or when a security officer approves a request."
    )


def _tell_removed(
    session: Session, person: Staff, *, event_id: int, removed_on: str, idle_days: int | None
) -> None:
    # `notify` skips inactive people, and this person just became one: told directly, once.
    agency = person.agency.name if person.agency else None
    payload = {"removed_on": removed_on, "agency": agency, "idle_days": idle_days}
    key = f"access_removed:e{event_id}:s{person.id}"
    tell(session, person, key=key, kind="access_removed", payload=payload, inactive_too=True)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
