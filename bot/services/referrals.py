"""Referral use cases for coordinators: create, edit, publish, re-publish, pend, close, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit import record
from bot.commands import Closing, ReferralDraft, ReferralEdit, parse
from bot.context import now
from bot.domain.lifecycle import check_transition
from bot.domain.permissions import Actor, require_coordinator, require_owner
from bot.domain.vocab import Channel, ReferralState, Role
from bot.errors import InvalidInput, NotFound
from bot.services.grid_rows import refresh_grid_rows
from bot.services.lookup import (
    check_service_codes,
    counties_named,
    programs_named,
    staff_named,
    visible_referral,
)
from bot.services.preview import check_capacity
from bot.services.publishing import PublishResult, announce, program_names, route_checked
from bot.services.routing import add_recipients
from storage.models import Client, Referral, RoleGrant, Staff


def create_referral(
    session: Session,
    *,
    actor: Actor,
    draft: ReferralDraft | dict[str, Any],
    channel: Channel,
) -> Referral:
    """A new draft referral with its number; nobody is told until it is published."""
    require_coordinator(actor)
    data = parse(ReferralDraft, draft)
    client = session.get(Client, data.client_id)
    if client is None:
        raise NotFound(f"There is no client {data.client_id}.", field="client_id")
    check_service_codes(session, data.needs)
    counties = counties_named(session, data.counties)
    if not data.statewide and not counties:
        raise InvalidInput(
            "A referral is either statewide or names at least one county.",
            field="counties",
            hint="Give the preferred counties, or mark it statewide.",
        )
    coordinator = _primary_coordinator(session, actor, data.primary_coordinator)
    referral = Referral(
        client_id=client.id,
        facility_code=data.facility_code.upper(),
        primary_coordinator_id=coordinator.id,
        urgency=data.urgency,
        statewide=data.statewide,
        state=ReferralState.DRAFT,
        needs=data.needs,
        summary=data.summary,
        created_at=now(session),
        created_by_id=actor.staff_id,
    )
    referral.counties = [] if data.statewide else counties
    referral.exclusions = programs_named(session, data.exclude_programs, field="exclude_programs")
    if data.target_programs is not None:
        referral.targets = programs_named(session, data.target_programs, field="target_programs")
    session.add(referral)
    session.flush()
    referral.number = f"R-{referral.created_at.year}-{referral.id:06d}"
    refresh_grid_rows(session, referral_ids=[referral.id])
    record(
        session,
        actor=actor,
        channel=channel,
        action="referral_created",
        referral_id=referral.id,
        client_id=client.id,
        number=referral.number,
    )
    return referral


def edit_referral(
    session: Session,
    *,
    actor: Actor,
    number: str,
    edit: ReferralEdit | dict[str, Any],
    channel: Channel,
) -> Referral:
    """Change a referral's needs, scope or exclusions; routing follows at the next (re-)publish."""
    referral = _owned(session, actor, number, what="edit", action="edit")
    data = parse(ReferralEdit, edit)
    changed: dict[str, Any] = {}
    if data.urgency is not None:
        referral.urgency = data.urgency
        changed["urgency"] = str(data.urgency)
    if data.needs is not None:
        check_service_codes(session, data.needs)
        referral.needs = data.needs
        changed["needs"] = data.needs
    if data.counties is not None:
        referral.counties = counties_named(session, data.counties)
        changed["counties"] = [c.name for c in referral.counties]
    if data.statewide is not None:
        referral.statewide = data.statewide
        changed["statewide"] = data.statewide
    if not referral.statewide and not referral.counties:
        raise InvalidInput(
            "A referral is either statewide or names at least one county.", field="counties"
        )
    if data.exclude_programs is not None:
        referral.exclusions = programs_named(
            session, data.exclude_programs, field="exclude_programs"
        )
        changed["exclusions"] = [p.key for p in referral.exclusions]
    if data.summary is not None:
        referral.summary = data.summary
        changed["summary"] = True
    refresh_grid_rows(session, referral_ids=[referral.id])
    record(
        session,
        actor=actor,
        channel=channel,
        action="referral_edited",
        referral_id=referral.id,
        **changed,
    )
    return referral


def publish_referral(
    session: Session,
    *,
    actor: Actor,
    number: str,
    channel: Channel,
    confirm_no_capacity: bool = False,
) -> PublishResult:
    """Open a draft: route it, and tell the recipients' gatekeepers and the coordinators.
    Programs that said they have no capacity are sent to only once the coordinator confirms."""
    referral = _owned(session, actor, number, what="publish", action="publish")
    moment = now(session)
    programs = route_checked(session, referral)
    check_capacity(session, referral, programs, confirmed=confirm_no_capacity)
    add_recipients(session, referral, programs, "published")
    referral.state = ReferralState.OPEN
    referral.first_published_at = moment
    referral.last_published_at = moment
    referral.publish_count = 1
    refresh_grid_rows(session, referral_ids=[referral.id])
    return announce(session, referral, actor, channel, "referral_published", joined=[], left=[])


def republish_referral(
    session: Session,
    *,
    actor: Actor,
    number: str,
    channel: Channel,
    confirm_no_capacity: bool = False,
) -> PublishResult:
    """Publish again after edits: routing is recomputed (programs whose exclusion was lifted
    come back now), the referral is open again, and every recipient is told."""
    referral = _owned(session, actor, number, what="re-publish", action="republish")
    programs = route_checked(session, referral)
    before = {r.program_id for r in referral.recipients if r.active}
    joined_ids = programs - before
    left_ids = before - programs
    check_capacity(session, referral, joined_ids, confirmed=confirm_no_capacity)
    for recipient in referral.recipients:
        if recipient.program_id in left_ids:
            recipient.active = False
            recipient.left_at = now(session)
    add_recipients(session, referral, joined_ids, "republished")
    referral.state = ReferralState.OPEN
    referral.pending_at = None
    referral.last_published_at = now(session)
    referral.publish_count += 1
    refresh_grid_rows(session, referral_ids=[referral.id])
    return announce(
        session,
        referral,
        actor,
        channel,
        "referral_republished",
        joined=program_names(session, joined_ids),
        left=program_names(session, left_ids),
    )


def mark_pending_placement(
    session: Session, *, actor: Actor, number: str, channel: Channel
) -> Referral:
    referral = _owned(session, actor, number, what="mark pending placement", action="pending")
    referral.state = ReferralState.PENDING_PLACEMENT
    referral.pending_at = now(session)
    refresh_grid_rows(session, referral_ids=[referral.id])
    record(
        session, actor=actor, channel=channel, action="referral_pending", referral_id=referral.id
    )
    return referral


def close_referral(
    session: Session,
    *,
    actor: Actor,
    number: str,
    closing: Closing | dict[str, Any],
    channel: Channel,
) -> PublishResult:
    """Close the loop with the need's outcome; recipients and coordinators are told."""
    referral = _owned(session, actor, number, what="close", action="close")
    data = parse(Closing, closing)
    if data.outcome != "fully met" and not data.reason:
        raise InvalidInput(
            "Say why the need was not fully met.",
            field="reason",
            hint="For example: close R-2026-000042 partially met: no day program nearby",
        )
    referral.state = ReferralState.CLOSED
    referral.closed_at = now(session)
    referral.outcome = data.outcome
    referral.outcome_reason = data.reason
    refresh_grid_rows(session, referral_ids=[referral.id])
    return announce(
        session,
        referral,
        actor,
        channel,
        "referral_closed",
        joined=[],
        left=[],
        extra={"outcome": str(data.outcome), "outcome_reason": data.reason},
    )


def delete_referral(
    session: Session, *, actor: Actor, number: str, channel: Channel, reason: str | None = None
) -> PublishResult:
    """Delete a draft or an open referral, saying why (kept with it and in the audit trail,
    not sent: it may name the client's circumstances)."""
    why = " ".join((reason or "").split())
    if not why:
        raise InvalidInput(
            "Say why the referral is deleted.",
            field="reason",
            hint="For example: entered twice, or the family withdrew the request.",
        )
    if len(why) > 500:
        raise InvalidInput("The reason is longer than 500 characters.", field="reason")
    referral = _owned(session, actor, number, what="delete", action="delete")
    was_published = referral.state != ReferralState.DRAFT
    referral.state = ReferralState.DELETED
    referral.deleted_at = now(session)
    referral.deleted_reason = why
    refresh_grid_rows(session, referral_ids=[referral.id])
    if not was_published:
        record(
            session,
            actor=actor,
            channel=channel,
            action="referral_deleted",
            referral_id=referral.id,
            reason=why,
        )
        return PublishResult(referral.number or number, [], [], [], 0, referral.id)
    return announce(
        session,
        referral,
        actor,
        channel,
        "referral_deleted",
        joined=[],
        left=[],
        audit={"reason": why},
    )


def _owned(session: Session, actor: Actor, number: str, *, what: str, action: str) -> Referral:
    """The referral, locked, when the actor may change it (its primary coordinator or an admin)
    and its state allows `action`."""
    referral = visible_referral(session, actor, number, lock=True)
    shown = referral.number or number
    require_owner(
        actor, number=shown, primary_coordinator_id=referral.primary_coordinator_id, what=what
    )
    check_transition(shown, referral.state, action)
    return referral


def _primary_coordinator(session: Session, actor: Actor, named: str | None) -> Staff:
    if named is None:
        staff = session.get(Staff, actor.staff_id)
        assert staff is not None
        if not any(g.role == Role.COORDINATOR for g in actor.grants):
            raise InvalidInput(
                "Name the primary coordinator: you are not a coordinator yourself.",
                field="primary_coordinator",
            )
        return staff
    staff = staff_named(session, named)
    is_coordinator = session.scalar(
        select(RoleGrant.id).where(
            RoleGrant.staff_id == staff.id,
            RoleGrant.role == Role.COORDINATOR,
            RoleGrant.revoked_at.is_(None),
        )
    )
    if is_coordinator is None:
        raise InvalidInput(f"{staff.name} is not a coordinator.", field="primary_coordinator")
    return staff


# details.py reads a referral with its client's details; these names stay importable from here.
from bot.services.details import ReferralDetails, view_referral  # noqa: E402, F401
