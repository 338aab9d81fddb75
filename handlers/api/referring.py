"""The referring side over the API: preview, edit and re-publish, program lookup, capacity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from bot.domain.vocab import Channel
from bot.services import programs
from bot.services.preview import preview_referral
from bot.services.revise import revise_referral
from handlers.api.deps import StaffId, acting
from handlers.api.referring_schemas import (
    CapacityIn,
    CapacityOut,
    PreviewOut,
    ProgramOut,
    ReferralEditIn,
    RevisionOut,
)

router = APIRouter(tags=["referring"])
# No control characters (PostgreSQL text cannot hold NUL).
PLAIN = r"^[^\x00-\x1f]*$"


@router.get("/referrals/{number}/preview", response_model=PreviewOut)
def preview(number: str, request: Request, staff_id: StaffId) -> PreviewOut:
    """Every program a (re-)publish would reach now, and every program it would leave out with
    its reason (suspended, MOU, contact, excluded, county, service, consent) and capacity."""
    with acting(request, staff_id) as (session, actor):
        return PreviewOut.of(preview_referral(session, actor=actor, number=number))


@router.patch("/referrals/{number}", response_model=RevisionOut)
def edit(
    number: str,
    body: ReferralEditIn,
    request: Request,
    staff_id: StaffId,
    republish: bool = True,
    confirm_no_capacity: bool = False,
) -> RevisionOut:
    """Change needs, urgency, counties or exclusions; an open referral is re-published at
    once (unless `republish=false`): newly matching programs join and are told."""
    with acting(request, staff_id) as (session, actor):
        revision = revise_referral(
            session,
            actor=actor,
            number=number,
            edit=body,
            channel=Channel.API,
            republish=republish,
            confirm_no_capacity=confirm_no_capacity,
        )
        return RevisionOut.of(revision)


@router.get("/programs", response_model=list[ProgramOut])
def find_programs(
    request: Request,
    staff_id: StaffId,
    need: Annotated[str | None, Query(max_length=32, pattern=PLAIN)] = None,
    county: Annotated[str | None, Query(max_length=200, pattern=PLAIN)] = None,
) -> list[ProgramOut]:
    """Programs by service and county, with capacity, suspension and MOU state."""
    with acting(request, staff_id) as (session, actor):
        found = programs.find_programs(session, actor=actor, need=need, county=county)
        return [ProgramOut.of(p) for p in found]


@router.put("/programs/{key}/capacity", response_model=CapacityOut)
def set_capacity(
    key: Annotated[str, Path(max_length=64, pattern=PLAIN)],
    body: CapacityIn,
    request: Request,
    staff_id: StaffId,
) -> CapacityOut:
    """State the program's capacity (its gatekeepers, or an admin); audited."""
    with acting(request, staff_id) as (session, actor):
        result = programs.set_capacity(
            session, actor=actor, program=key, change=body, channel=Channel.API
        )
        return CapacityOut.of(result)
