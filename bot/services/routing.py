"""Routing against the database: who receives a referral now, and programs that join later."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit import record
from bot.bulk_insert import insert_rows
from bot.context import now, today
from bot.domain.agreements import agency_mou_valid
from bot.domain.permissions import Actor
from bot.domain.routing import ProgramFacts, ReferralFacts, route
from bot.domain.vocab import ACTIVE_STATES, Channel, ReferralState, Role
from bot.network import consent_required
from bot.notify import gatekeepers_of, notify, referral_brief
from bot.services.grid_rows import refresh_grid_rows
from storage.models import (
    Agency,
    Consent,
    Program,
    Recipient,
    Referral,
    RoleGrant,
    Staff,
    program_counties,
    program_services,
)


def program_facts(
    session: Session, day: date, program_ids: Iterable[int] | None = None
) -> list[ProgramFacts]:
    """Set-based: four queries however many programs there are."""
    query = select(Program.id, Program.suspended, Agency.mou_signed_on, Agency.mou_expires_on).join(
        Agency, Agency.id == Program.agency_id
    )
    ids = None if program_ids is None else set(program_ids)
    if ids is not None:
        query = query.where(Program.id.in_(ids))
    rows = session.execute(query).all()
    counties: dict[int, set[int]] = defaultdict(set)
    services: dict[int, set[str]] = defaultdict(set)
    for pid, cid in session.execute(
        select(program_counties.c.program_id, program_counties.c.county_id)
    ):
        counties[pid].add(cid)
    for pid, code in session.execute(
        select(program_services.c.program_id, program_services.c.service_code)
    ):
        services[pid].add(code)
    contacts = set(
        session.scalars(
            select(RoleGrant.program_id)
            .join(Staff, Staff.id == RoleGrant.staff_id)
            .where(
                RoleGrant.role.in_([Role.GATEKEEPER, Role.PROVIDER]),
                RoleGrant.revoked_at.is_(None),
                Staff.active.is_(True),
            )
        )
    )
    return [
        ProgramFacts(
            id=pid,
            suspended=suspended,
            mou_valid=agency_mou_valid(signed, expires, day),
            has_active_contact=pid in contacts,
            county_ids=frozenset(counties[pid]),
            services=frozenset(services[pid]),
        )
        for pid, suspended, signed, expires in rows
    ]


def consented_programs(session: Session, client_id: int, day: date) -> frozenset[int] | None:
    """Programs covered by the client's active consents; None when consent is not required."""
    if not consent_required(session):
        return None
    covered: set[int] = set()
    for consent in session.scalars(select(Consent).where(Consent.client_id == client_id)):
        if consent.active_on(day):
            if consent.any_program:
                return frozenset(session.scalars(select(Program.id)))
            covered.update(p.id for p in consent.programs)
    return frozenset(covered)


def referral_facts(session: Session, referral: Referral, day: date) -> ReferralFacts:
    return ReferralFacts(
        statewide=referral.statewide,
        county_ids=frozenset(c.id for c in referral.counties),
        needs=frozenset(referral.needs),
        excluded=frozenset(p.id for p in referral.exclusions),
        targets=frozenset(p.id for p in referral.targets) if referral.targets else None,
        consented=consented_programs(session, referral.client_id, day),
    )


def recipients_now(session: Session, referral: Referral) -> set[int]:
    day = today(session)
    return route(program_facts(session, day), referral_facts(session, referral, day))


def add_recipient(session: Session, referral: Referral, program_id: int, how: str) -> Recipient:
    """Make `program_id` an active recipient (again, if it left earlier)."""
    existing = next((r for r in referral.recipients if r.program_id == program_id), None)
    if existing is not None:
        existing.active = True
        existing.left_at = None
        return existing
    recipient = Recipient(
        referral=referral, program_id=program_id, joined_at=now(session), joined_how=how
    )
    session.add(recipient)
    return recipient


def add_recipients(
    session: Session, referral: Referral, program_ids: Iterable[int], how: str
) -> None:
    """Make these programs active recipients (again, for those that left): the new ones in one
    set-based INSERT, since a statewide referral reaches thousands of programs at once."""
    wanted = set(program_ids)
    existing = {r.program_id: r for r in referral.recipients}
    for program_id in wanted & existing.keys():
        existing[program_id].active = True
        existing[program_id].left_at = None
    new = sorted(wanted - existing.keys())
    if not new:
        return
    session.flush()
    moment = now(session)
    insert_rows(
        session,
        Recipient,
        [
            {"referral_id": referral.id, "program_id": pid, "joined_at": moment, "joined_how": how}
            for pid in new
        ],
    )
    session.expire(referral, ["recipients"])


def join_open_referrals(
    session: Session,
    program_ids: Iterable[int],
    *,
    how: str,
    actor: Actor | None,
    channel: Channel,
    client_id: int | None = None,
) -> int:
    """Programs that are new, widened or unsuspended join the open referrals they now match
    (of one client only, with `client_id`: a new consent), and their gatekeepers are told at
    once. Returns how many (referral, program) pairs joined."""
    ids = set(program_ids)
    if not ids:
        return 0
    day = today(session)
    facts = program_facts(session, day, ids)
    joined = 0
    grown: list[int] = []
    wanted = select(Referral).where(Referral.state.in_(ACTIVE_STATES))
    if client_id is not None:
        wanted = wanted.where(Referral.client_id == client_id)
    open_referrals = session.scalars(wanted.order_by(Referral.id)).all()
    for referral in open_referrals:
        current = {r.program_id for r in referral.recipients if r.active}
        new = route(facts, referral_facts(session, referral, day)) - current
        for program_id in sorted(new):
            add_recipient(session, referral, program_id, how)
            event = record(
                session,
                actor=actor,
                channel=channel,
                action="program_joined",
                referral_id=referral.id,
                program_id=program_id,
                how=how,
            )
            program = session.get(Program, program_id)
            notify(
                session,
                event=event,
                kind="program_joined",
                people=gatekeepers_of(session, [program_id]),
                payload={
                    **referral_brief(session, referral),
                    "program": program.name if program else "",
                    "program_key": program.key if program else "",
                    "how": how,
                },
                referral_id=referral.id,
                skip_staff_id=actor.staff_id if actor else None,
            )
            joined += 1
        if new:
            grown.append(referral.id)
    refresh_grid_rows(session, referral_ids=grown)
    return joined


def is_active_state(state: ReferralState) -> bool:
    return state in ACTIVE_STATES
