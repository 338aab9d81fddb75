"""Referrals over the API: create a draft, the lifecycle, details, and the grid's search."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from bot.commands import Close, Closing, MarkPending, Republish, parse
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, ReferralState
from bot.services import grid, referrals
from bot.services.grid import MAX_LIMIT, GridQuery, Scope
from bot.services.lookup import referral_by_number
from bot.services.referrals import PublishResult
from bot.services.verbs import apply
from handlers.api.deps import StaffId, acting
from handlers.api.schemas import (
    GridPageOut,
    PublishOut,
    ReferralDetailsOut,
    ReferralDraftIn,
    ReferralOut,
)

router = APIRouter(prefix="/referrals", tags=["referrals"])


def grid_query(
    scope: Scope = "open",
    status: ReferralState | None = None,
    last_name: str | None = None,
    first_name: str | None = None,
    external_id: str | None = None,
    number: str | None = None,
    county: str | None = None,
    need: str | None = None,
    program: str | None = None,
    sort: str = "age",
    descending: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    cursor: str | None = None,
) -> GridQuery:
    return GridQuery(
        scope=scope,
        status=status,
        last_name=last_name,
        first_name=first_name,
        external_id=external_id,
        number=number,
        county=county,
        need=need,
        program=program,
        sort=sort,
        descending=descending,
        limit=limit,
        cursor=cursor,
    )


@router.get("", response_model=GridPageOut)
def search(
    query: Annotated[GridQuery, Depends(grid_query)], request: Request, staff_id: StaffId
) -> GridPageOut:
    """The referral grid: one row per referral and recipient program you may see, paged."""
    with acting(request, staff_id) as (session, actor):
        return GridPageOut.of(grid.search(session, actor=actor, query=query, channel=Channel.API))


@router.post("", status_code=201, response_model=ReferralOut)
def create(body: ReferralDraftIn, request: Request, staff_id: StaffId) -> ReferralOut:
    """A new draft referral with its number; nobody is told until it is published."""
    with acting(request, staff_id) as (session, actor):
        referral = referrals.create_referral(session, actor=actor, draft=body, channel=Channel.API)
        return ReferralOut.of(referral)


@router.get("/{number}", response_model=ReferralDetailsOut)
def view(number: str, request: Request, staff_id: StaffId) -> ReferralDetailsOut:
    """The referral with its client's details: for people with a role on it (the read is
    audited)."""
    with acting(request, staff_id) as (session, actor):
        details = referrals.view_referral(session, actor=actor, number=number, channel=Channel.API)
        return ReferralDetailsOut.of_details(details)


def _lifecycle(
    request: Request, staff_id: int, run: Callable[[Session, Actor], PublishResult]
) -> PublishOut:
    with acting(request, staff_id) as (session, actor):
        return PublishOut.of(run(session, actor))


@router.post("/{number}/publish", response_model=PublishOut)
def publish(
    number: str, request: Request, staff_id: StaffId, confirm_no_capacity: bool = False
) -> PublishOut:
    """Open a draft: route it and tell the recipients' gatekeepers and the coordinators.
    Refused (409, naming why) when it would reach no program; asks for
    `confirm_no_capacity=true` when a recipient said it has no capacity."""
    return _lifecycle(
        request,
        staff_id,
        lambda s, a: referrals.publish_referral(
            s, actor=a, number=number, channel=Channel.API, confirm_no_capacity=confirm_no_capacity
        ),
    )


@router.post("/{number}/republish", response_model=PublishOut)
def republish(number: str, request: Request, staff_id: StaffId) -> PublishOut:
    """Publish again after edits: routing is recomputed and every recipient is told."""
    return _published(request, staff_id, parse(Republish, {"number": number}))


@router.post("/{number}/pending", response_model=ReferralOut)
def pending(number: str, request: Request, staff_id: StaffId) -> ReferralOut:
    """Mark the referral pending placement."""
    command = parse(MarkPending, {"number": number})
    with acting(request, staff_id) as (session, actor):
        applied = apply(session, actor=actor, command=command, channel=Channel.API)
        return ReferralOut.of(referral_by_number(session, applied.number))


@router.post("/{number}/close", response_model=PublishOut)
def close(number: str, body: Closing, request: Request, staff_id: StaffId) -> PublishOut:
    """Close the loop with the need's outcome (a reason unless fully met)."""
    said = {"number": number, "outcome": body.outcome, "reason": body.reason}
    return _published(request, staff_id, parse(Close, said))


def _published(request: Request, staff_id: int, command: Close | Republish) -> PublishOut:
    """Close and republish go through the one `apply`; their answer is what they published."""
    with acting(request, staff_id) as (session, actor):
        applied = apply(session, actor=actor, command=command, channel=Channel.API)
        assert applied.published is not None  # close and republish always say what they did
        return PublishOut.of(applied.published)


@router.delete("/{number}", response_model=PublishOut)
def delete(
    number: str,
    request: Request,
    staff_id: StaffId,
    reason: Annotated[str, Query(max_length=500, pattern=r"^[^\x00]*$")] = "",
) -> PublishOut:
    """Delete a draft or open referral, saying why (`reason`, kept, never sent); if it was
    published, its recipients are told."""
    return _lifecycle(
        request,
        staff_id,
        lambda s, a: referrals.delete_referral(
            s, actor=a, number=number, channel=Channel.API, reason=reason
        ),
    )
