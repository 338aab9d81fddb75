"""Program lookup before referring (by service and county) and capacity set by a gatekeeper."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from bot.audit import record
from bot.commands import CapacityChange, parse
from bot.context import today
from bot.domain.capacity import CapacityStatus, warns
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, Role
from bot.errors import Forbidden, InvalidInput
from bot.services.lookup import check_service_codes, counties_named, program_matching
from bot.services.preview import capacity_of, capacity_words
from bot.services.routing import program_facts
from storage.models import County, Program, program_counties, program_services

LOOKUP_LIMIT = 200


@dataclass(frozen=True)
class ProgramListing:
    """A program as a coordinator weighs it before referring: no client data at all."""

    key: str
    name: str
    agency: str
    services: list[str]
    counties: list[str]
    all_counties: bool
    capacity: str | None
    no_capacity: bool
    suspended: bool
    mou_valid: bool
    mou_expires_on: date | None
    has_active_contact: bool

    @property
    def receives(self) -> bool:
        return not self.suspended and self.mou_valid and self.has_active_contact


def find_programs(
    session: Session, *, actor: Actor, need: str | None = None, county: str | None = None
) -> list[ProgramListing]:
    """Programs offering `need` in `county` (either may be left out), with capacity,
    suspension and MOU state; every signed-in staff member may look."""
    query = (
        select(Program)
        .options(
            joinedload(Program.agency),
            selectinload(Program.services),
            selectinload(Program.counties),
        )
        .order_by(Program.name)
        .limit(LOOKUP_LIMIT)
    )
    if need:
        code = need.strip().upper()
        check_service_codes(session, [code], field="need")
        query = query.where(
            Program.id.in_(
                select(program_services.c.program_id).where(program_services.c.service_code == code)
            )
        )
    if county:
        found = counties_named(session, [county], field="county")[0]
        query = query.where(
            Program.id.in_(
                select(program_counties.c.program_id).where(
                    program_counties.c.county_id == found.id
                )
            )
        )
    programs = list(session.scalars(query).unique())
    day = today(session)
    facts = {f.id: f for f in program_facts(session, day, [p.id for p in programs])}
    county_total = session.scalar(select(func.count()).select_from(County)) or 0
    return [
        ProgramListing(
            key=p.key,
            name=p.name,
            agency=p.agency.name,
            services=sorted(s.code for s in p.services),
            counties=sorted(c.name for c in p.counties),
            all_counties=county_total > 0 and len(p.counties) == county_total,
            capacity=capacity_words(p, day),
            no_capacity=warns(capacity_of(p), day),
            suspended=p.suspended,
            mou_valid=facts[p.id].mou_valid,
            mou_expires_on=p.agency.mou_expires_on,
            has_active_contact=facts[p.id].has_active_contact,
        )
        for p in programs
    ]


@dataclass(frozen=True)
class CapacityResult:
    program: str
    program_key: str
    capacity: str | None
    changed: bool

    @property
    def summary(self) -> str:
        if not self.changed:
            return f"Nothing changed: {self.program} already has {self.capacity}."
        return f"{self.program} now has {self.capacity}."


def set_capacity(
    session: Session,
    *,
    actor: Actor,
    change: CapacityChange | dict[str, Any],
    channel: Channel,
    program: str | None = None,
) -> CapacityResult:
    """A gatekeeper of the program (or an admin) states its capacity; audited like any change.
    Without a program named, the gatekeeper's only program is meant."""
    data = parse(CapacityChange, change)
    found = _program_for(session, actor, program)
    if not (actor.is_admin or actor.has(Role.GATEKEEPER, program_id=found.id)):
        raise Forbidden(f"Only a gatekeeper of {found.name} or an admin can set its capacity.")
    day = today(session)
    if data.status == CapacityStatus.WAITLIST and data.waitlist is None:
        raise InvalidInput(
            "Say how many people are on the waitlist.",
            field="waitlist",
            hint="For example: /referral capacity waitlist 12",
        )
    if data.status != CapacityStatus.WAITLIST and data.waitlist is not None:
        raise InvalidInput("Only a waitlist has a length.", field="waitlist")
    if data.until is not None and data.until < day:
        raise InvalidInput(
            f"{data.until.isoformat()} has passed.",
            field="until",
            hint="Give a day from today on, or leave it out.",
        )
    before = capacity_words(found, day)
    same = (
        found.capacity_status == data.status
        and found.capacity_waitlist == data.waitlist
        and found.capacity_until == data.until
        and before is not None
    )
    if same:
        return CapacityResult(found.name, found.key, before, False)
    found.capacity_status = data.status
    found.capacity_waitlist = data.waitlist
    found.capacity_until = data.until
    found.capacity_set_on = day
    found.capacity_set_by_id = actor.staff_id
    record(
        session,
        actor=actor,
        channel=channel,
        action="capacity_set",
        program_id=found.id,
        status=str(data.status),
        waitlist=data.waitlist,
        until=data.until.isoformat() if data.until else None,
        before=before,
    )
    return CapacityResult(found.name, found.key, capacity_words(found, day), True)


def _program_for(session: Session, actor: Actor, program: str | None) -> Program:
    if program and program.strip():
        return program_matching(session, program)
    mine = sorted(actor.programs(Role.GATEKEEPER))
    if len(mine) == 1:
        found = session.get(Program, mine[0])
        assert found is not None
        return found
    names = ", ".join(
        session.scalars(select(Program.key).where(Program.id.in_(mine)).order_by(Program.key))
    )
    raise InvalidInput(
        "Say which program's capacity this is.",
        field="program",
        hint=f"You are a gatekeeper of: {names}." if names else "Name the program by its key.",
    )


def stated_capacities(
    session: Session, targets: dict[str, set[int] | None]
) -> dict[str, list[dict[str, str]]]:
    """For each digest target (its counties; None: all), the programs serving them that stated
    a capacity which still holds, by name: the region digest shows them."""
    day = today(session)
    stated = [
        p
        for p in session.scalars(
            select(Program)
            .where(Program.capacity_status.is_not(None))
            .options(selectinload(Program.counties))
            .order_by(Program.name)
        )
        if capacity_words(p, day) is not None
    ]
    out: dict[str, list[dict[str, str]]] = {}
    for target, counties in targets.items():
        out[target] = [
            {"program": p.name, "capacity": capacity_words(p, day) or ""}
            for p in stated
            if counties is None or counties & {c.id for c in p.counties}
        ]
    return out
