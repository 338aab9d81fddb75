"""Expiries and access hygiene: agency and user MOUs, consents, staff idle for 90 days."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.audit import record
from bot.context import today
from bot.domain.agreements import agency_mou_ends
from bot.domain.permissions import USER_MOU_VALID_DAYS
from bot.domain.vocab import ACTIVE_STATES, Channel, Role
from bot.notify import holding, tell
from storage.models import Agency, Consent, Program, Referral, RoleGrant, Staff

WARN_DAYS = 30


def _tell(
    session: Session, people: list[Staff], *, key: str, kind: str, payload: dict[str, Any]
) -> int:
    return sum(
        tell(session, person, key=f"{key}:s{person.id}", kind=kind, payload=payload)
        for person in people
    )


def _with_role(session: Session, role: Role, **scope: object) -> list[Staff]:
    where: list[ColumnElement[bool]] = []
    if "program_ids" in scope:
        where.append(RoleGrant.program_id.in_(scope["program_ids"]))  # type: ignore[arg-type]
    if "agency_id" in scope:
        where.append(RoleGrant.agency_id == scope["agency_id"])
    return holding(session, role, *where)


def agency_mous(session: Session) -> int:
    """Expiring within 30 days: the agency's gatekeepers are told. Expired: its programs leave
    routing (routing checks the MOU), and its gatekeepers and the admins are told, once."""
    day = today(session)
    written = 0
    for agency in session.scalars(select(Agency).where(Agency.mou_signed_on.is_not(None))):
        # Without an expiry date, an MOU lapses a year after signing.
        expires = agency_mou_ends(agency.mou_signed_on, agency.mou_expires_on)
        assert expires is not None
        program_ids = [p.id for p in agency.programs]
        gatekeepers = _with_role(session, Role.GATEKEEPER, program_ids=program_ids)
        payload = {
            "agency": agency.name,
            "expires_on": expires.isoformat(),
            "programs": [p.name for p in agency.programs],
        }
        if day <= expires <= day + timedelta(days=WARN_DAYS):
            written += _tell(
                session,
                gatekeepers,
                key=f"mou_expiring:a{agency.id}:{expires}",
                kind="mou_expiring",
                payload=payload,
            )
        elif expires < day:
            admins = _with_role(session, Role.ADMIN)
            told = _tell(
                session,
                gatekeepers + admins,
                key=f"mou_expired:a{agency.id}:{expires}",
                kind="mou_expired",
                payload=payload,
            )
            if told:
                for program in agency.programs:
                    record(
                        session,
                        actor=None,
                        channel=Channel.SCHEDULER,
                        action="program_left_routing",
                        program_id=program.id,
                        reason="agency MOU expired",
                    )
            written += told
    return written


def user_mous(session: Session) -> int:
    """The yearly user MOU: each person is reminded once in the 30 days before it lapses."""
    day = today(session)
    written = 0
    earliest = day - timedelta(days=USER_MOU_VALID_DAYS)
    latest = earliest + timedelta(days=WARN_DAYS)
    for person in session.scalars(
        select(Staff).where(
            Staff.active.is_(True),
            Staff.user_mou_signed_on.is_not(None),
            Staff.user_mou_signed_on >= earliest,
            Staff.user_mou_signed_on <= latest,
        )
    ):
        signed = person.user_mou_signed_on
        assert signed is not None
        lapses = signed + timedelta(days=USER_MOU_VALID_DAYS)
        written += _tell(
            session,
            [person],
            key=f"user_mou_due:{signed}",
            kind="user_mou_due",
            payload={"lapses_on": lapses.isoformat()},
        )
    return written


def consents(session: Session) -> int:
    """A consent expiring within 30 days: the primary coordinators of the client's active
    referrals are told, once per consent."""
    day = today(session)
    written = 0
    expiring = session.scalars(
        select(Consent).where(
            Consent.revoked_at.is_(None),
            Consent.expires_on >= day,
            Consent.expires_on <= day + timedelta(days=WARN_DAYS),
        )
    ).all()
    for consent in expiring:
        rows = session.execute(
            select(Referral.number, Staff)
            .join(Staff, Staff.id == Referral.primary_coordinator_id)
            .where(Referral.client_id == consent.client_id, Referral.state.in_(ACTIVE_STATES))
            .order_by(Referral.number)
        ).all()
        by_staff: dict[int, tuple[Staff, list[str]]] = {}
        for number, staff in rows:
            by_staff.setdefault(staff.id, (staff, []))[1].append(number or "")
        for staff, numbers in by_staff.values():
            written += _tell(
                session,
                [staff],
                key=f"consent_expiring:c{consent.id}:{consent.expires_on}",
                kind="consent_expiring",
                payload={"expires_on": consent.expires_on.isoformat(), "numbers": numbers},
            )
    return written


__all__ = ["Program", "agency_mous", "consents", "user_mous"]
