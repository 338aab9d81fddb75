"""Access: staff ask for a role on a program, the agency's security officer decides and
reviews the agency's roles (removing a person's access: revocation.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.audit import record
from bot.context import local_date, now
from bot.domain.access import (
    require_may_decide,
    require_may_review,
    require_program_role,
    require_same_agency,
)
from bot.domain.permissions import Actor
from bot.domain.vocab import AccessStatus, Channel, Role, match_choice
from bot.errors import Conflict, Forbidden, InvalidInput, NotFound
from bot.notify import holding, network_admins, notify
from bot.services.lookup import program_matching
from storage.models import (
    AccessRequest,
    Agency,
    Program,
    RoleGrant,
    Staff,
)

NOTE_LIMIT = 500
REQUEST_HINT = "Type /referral access pending to see the requests waiting for you."


@dataclass(frozen=True)
class AccessRequestResult:
    """An access request as it stands; `changed` is False when the call changed nothing (a
    second click on Approve, a decision on a request already decided)."""

    request_id: int
    requester: str
    requester_email: str
    role: str
    program: str
    program_key: str
    agency: str
    status: str
    requested_at: datetime
    changed: bool
    summary: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None


@dataclass(frozen=True)
class RoleRow:
    """One current role of one person, for the agency's review."""

    staff_id: int
    name: str
    email: str
    role: str
    scope: str
    program_key: str | None
    granted_at: datetime


def request_access(
    session: Session, *, actor: Actor, role: str, program: str, channel: Channel | str
) -> AccessRequestResult:
    """Ask for a role on one of your agency's programs; its security officers are told.

    Refused as a whole, with the reason, for a role the program does not offer (only
    gatekeeper and provider: bot/domain/access.py), a role already held, or a request
    already waiting."""
    wanted = match_choice(role, Role, field="role")
    found = program_matching(session, program)
    require_program_role(wanted, program_name=found.name)
    require_same_agency(actor, program_agency_id=found.agency_id, program_name=found.name)
    role_name = _role_name(wanted)
    if actor.has(wanted, program_id=found.id):
        raise Conflict(f"You are already a {role_name} of {found.name}.", field="role")
    # One person's requests queue on their own row, so a double submit finds the first.
    requester = session.get(Staff, actor.staff_id)
    assert requester is not None
    session.refresh(requester, with_for_update=True)
    waiting = session.scalar(
        select(AccessRequest).where(
            AccessRequest.staff_id == actor.staff_id,
            AccessRequest.role == wanted,
            AccessRequest.program_id == found.id,
            AccessRequest.status == AccessStatus.PENDING,
        )
    )
    if waiting is not None:
        raise Conflict(
            f"You already asked to be a {role_name} of {found.name} on "
            f"{_day(session, waiting.created_at)}; the request is waiting for your agency's "
            "security officer.",
            field="role",
        )
    request = AccessRequest(
        staff_id=actor.staff_id,
        role=wanted,
        program_id=found.id,
        status=AccessStatus.PENDING,
        channel=str(channel),
        created_at=now(session),
    )
    session.add(request)
    session.flush()
    event = record(
        session,
        actor=actor,
        channel=channel,
        action="access_requested",
        program_id=found.id,
        request_id=request.id,
        staff=requester.email,
        role=wanted.value,
    )
    officers = officers_of(session, found.agency_id, besides=actor.staff_id)
    payload = _payload(session, request)
    told = officers or network_admins(session)
    notify(
        session,
        event=event,
        kind="access_requested",
        people=told,
        payload={**payload, "no_officer": not officers},
        skip_staff_id=actor.staff_id,
    )
    if not officers:
        who = "your agency has no security officer yet, so the network admins have been told"
    elif len(officers) == 1:
        who = "your agency's security officer has been told"
    else:
        who = "your agency's security officers have been told"
    summary = f"Asked to be a {role_name} of {found.name}; {who}."
    return _result(session, request, changed=True, summary=summary)


def decide_access_request(
    session: Session,
    *,
    actor: Actor,
    request_id: int,
    approve: bool,
    channel: Channel | str,
    note: str | None = None,
) -> AccessRequestResult:
    """A security officer of the program's agency approves (the role is granted) or denies;
    the requester is told. A request already decided is answered with what happened."""
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_LIMIT:
        raise InvalidInput(
            f"The note is {len(note)} characters long; at most {NOTE_LIMIT} are kept.",
            field="note",
            hint="Shorten it and decide again.",
        )
    request = session.get(AccessRequest, request_id)
    if request is None:
        raise NotFound(
            f"There is no access request {request_id}.", field="request_id", hint=REQUEST_HINT
        )
    # Two officers clicking at once: the second waits here, then sees the first's decision.
    session.refresh(request, with_for_update=True)
    agency = request.program.agency
    require_may_decide(
        actor, agency_id=agency.id, agency_name=agency.name, requester_id=request.staff_id
    )
    if request.status != AccessStatus.PENDING:
        return _result(session, request, changed=False, summary=_decided_line(session, request))
    requester = request.staff
    if approve and not requester.active:
        raise Conflict(
            f"{requester.name}'s closeloop access was removed, so the request cannot be approved.",
            field="request_id",
            hint="Deny it; they can ask again once their access is restored.",
        )
    moment = now(session)
    request.status = AccessStatus.APPROVED if approve else AccessStatus.DENIED
    request.decided_by_id = actor.staff_id
    request.decided_at = moment
    request.note = note
    if approve and not _holds(session, request):
        session.add(
            RoleGrant(
                staff_id=request.staff_id,
                role=request.role,
                program_id=request.program_id,
                granted_at=moment,
            )
        )
    session.flush()
    event = record(
        session,
        actor=actor,
        channel=channel,
        action="access_approved" if approve else "access_denied",
        program_id=request.program_id,
        request_id=request.id,
        staff=requester.email,
        role=request.role.value,
        note=note,
    )
    notify(
        session,
        event=event,
        kind="access_decided",
        people=[requester],
        payload={
            **_payload(session, request),
            "approved": approve,
            "decided_by": actor.name,
            "decided_on": _day(session, moment),
            "note": note,
        },
    )
    return _result(session, request, changed=True, summary=_decided_line(session, request))


def pending_access_requests(session: Session, *, actor: Actor) -> list[AccessRequestResult]:
    """The requests a security officer may decide: their agencies', not their own, oldest first."""
    agencies = {g.agency_id for g in actor.grants if g.role == Role.SECURITY_OFFICER}
    agencies.discard(None)
    if not agencies:
        raise Forbidden("Only security officers have a queue of access requests.")
    rows = session.scalars(
        select(AccessRequest)
        .join(Program, Program.id == AccessRequest.program_id)
        .where(
            AccessRequest.status == AccessStatus.PENDING,
            Program.agency_id.in_(agencies),
            AccessRequest.staff_id != actor.staff_id,
        )
        .order_by(AccessRequest.created_at, AccessRequest.id)
    ).all()
    return [_result(session, r, changed=False, summary=_waiting_line(session, r)) for r in rows]


def agency_roles(session: Session, *, actor: Actor, agency: str) -> list[RoleRow]:
    """Every current role held at an agency (on its programs, or by its staff), for review by
    its security officer or an admin; ordered by person, role and scope."""
    wanted = agency.strip().lower()
    found = session.scalar(
        select(Agency).where(
            or_(func.lower(Agency.key) == wanted, func.lower(Agency.name) == wanted)
        )
    )
    if found is None:
        raise NotFound(
            f'"{agency.strip()}" is not an agency in the directory.',
            field="agency",
            hint="Use the agency's key or its full name.",
        )
    require_may_review(actor, agency_id=found.id, agency_name=found.name)
    program_ids = [p.id for p in found.programs]
    rows = session.execute(
        select(RoleGrant, Staff)
        .join(Staff, Staff.id == RoleGrant.staff_id)
        .where(
            RoleGrant.revoked_at.is_(None),
            Staff.active.is_(True),
            or_(
                Staff.agency_id == found.id,
                RoleGrant.agency_id == found.id,
                RoleGrant.program_id.in_(program_ids),
            ),
        )
    ).all()
    found_rows = [
        RoleRow(
            staff_id=staff.id,
            name=staff.name,
            email=staff.email,
            role=_role_name(grant.role),
            scope=_scope(grant),
            program_key=grant.program.key if grant.program else None,
            granted_at=grant.granted_at,
        )
        for grant, staff in rows
    ]
    return sorted(found_rows, key=lambda r: (r.name, r.staff_id, r.role, r.scope))


def officers_of(session: Session, agency_id: int, *, besides: int | None = None) -> list[Staff]:
    """The agency's active security officers (but `besides`, who cannot decide for themselves)."""
    officers = holding(session, Role.SECURITY_OFFICER, RoleGrant.agency_id == agency_id)
    return [s for s in officers if s.id != besides]


def _holds(session: Session, request: AccessRequest) -> bool:
    return (
        session.scalar(
            select(RoleGrant.id).where(
                RoleGrant.staff_id == request.staff_id,
                RoleGrant.role == request.role,
                RoleGrant.program_id == request.program_id,
                RoleGrant.revoked_at.is_(None),
            )
        )
        is not None
    )


def _payload(session: Session, request: AccessRequest) -> dict[str, Any]:
    """What a notification about a request carries: who asked for which role where, no more."""
    return {
        "request_id": request.id,
        "requester": request.staff.name,
        "requester_email": request.staff.email,
        "role": _role_name(request.role),
        "program": request.program.name,
        "program_key": request.program.key,
        "agency": request.program.agency.name,
        "requested_on": _day(session, request.created_at),
    }


def _result(
    session: Session, request: AccessRequest, *, changed: bool, summary: str
) -> AccessRequestResult:
    return AccessRequestResult(
        request_id=request.id,
        requester=request.staff.name,
        requester_email=request.staff.email,
        role=_role_name(request.role),
        program=request.program.name,
        program_key=request.program.key,
        agency=request.program.agency.name,
        status=str(request.status),
        requested_at=request.created_at,
        changed=changed,
        summary=summary,
        decided_by=request.decided_by.name if request.decided_by else None,
        decided_at=request.decided_at,
        note=request.note,
    )


def _decided_line(session: Session, request: AccessRequest) -> str:
    who = request.decided_by.name if request.decided_by else "someone"
    when = _day(session, request.decided_at) if request.decided_at else "an earlier day"
    return (
        f"{request.staff.name}'s request to be a {_role_name(request.role)} of "
        f"{request.program.name} was {request.status} by {who} on {when}."
    )


def _waiting_line(session: Session, request: AccessRequest) -> str:
    return (
        f"{request.staff.name} ({request.staff.email}) asks to be a "
        f"{_role_name(request.role)} of {request.program.name} "
        f"(since {_day(session, request.created_at)})."
    )


def _scope(grant: RoleGrant) -> str:
    if grant.program is not None:
        return grant.program.name
    if grant.agency is not None:
        return grant.agency.name
    if grant.county is not None:
        return grant.county.name
    return "all counties" if grant.role == Role.COORDINATOR else "the network"


def _role_name(role: Role) -> str:
    return role.value.replace("_", " ")


def _day(session: Session, moment: datetime) -> str:
    return local_date(session, moment).isoformat()


# Removing access lives in revocation.py; these names stay importable from here.
from bot.services.revocation import (  # noqa: E402, F401
    RevocationResult,
    remove_access,
    restore_access,
    revoke_access,
)
