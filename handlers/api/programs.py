"""No-referral status over the API: suspend and resume a program."""

from __future__ import annotations

from fastapi import APIRouter, Request

from bot.domain.vocab import Channel
from bot.services.directory import resume_program, suspend_program
from handlers.api.deps import StaffId, acting
from handlers.api.schemas import SuspensionOut

router = APIRouter(tags=["programs"])


@router.post("/programs/{key}/suspend", response_model=SuspensionOut)
def suspend(key: str, request: Request, staff_id: StaffId) -> SuspensionOut:
    """Put the program in no-referral status: it receives nothing until resumed."""
    with acting(request, staff_id) as (session, actor):
        return SuspensionOut.of(
            suspend_program(session, actor=actor, program=key, channel=Channel.API)
        )


@router.post("/programs/{key}/resume", response_model=SuspensionOut)
def resume(key: str, request: Request, staff_id: StaffId) -> SuspensionOut:
    """Lift no-referral status: the program joins every open referral it matches."""
    with acting(request, staff_id) as (session, actor):
        return SuspensionOut.of(
            resume_program(session, actor=actor, program=key, channel=Channel.API)
        )
