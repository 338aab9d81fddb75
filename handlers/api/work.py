"""Work on a referral over the API: assign, respond, service status, notes (bot/commands.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from bot.commands import AddNote, Assign, Respond, SetStatus, WorkCommand, parse
from bot.domain.vocab import Channel
from bot.services.verbs import Applied, apply
from handlers.api.deps import StaffId, acting

router = APIRouter(prefix="/referrals", tags=["work"])

PROGRAM = Field(
    default=None,
    max_length=200,
    description="The recipient program you act for (key or name), when you work at several.",
)


class WorkIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    program: str | None = PROGRAM

    def command(self, number: str) -> WorkCommand:
        """The work verb this body asks for, on the referral `number`."""
        raise NotImplementedError  # pragma: no cover - each body says


def _read(model: type[WorkCommand], number: str, body: dict[str, Any]) -> WorkCommand:
    return parse(model, {**body, "number": number})


class AssignIn(WorkIn):
    provider: str = Field(
        min_length=1, max_length=200, description="The provider's email address or name."
    )
    reassign: bool = Field(
        default=False,
        description="Give it to someone else when it is assigned already (a gatekeeper), or "
        "hand it on (the provider holding it).",
    )

    def command(self, number: str) -> WorkCommand:
        return _read(Assign, number, self.model_dump())


class RespondIn(WorkIn):
    response: str = Field(
        min_length=1,
        max_length=40,
        description="accept, tentative or decline (an unambiguous prefix is enough).",
    )
    reason: str | None = Field(
        default=None,
        max_length=200,
        description="The provision (tentative) or decline reason, from the list; none to accept.",
    )
    comment: str | None = Field(default=None, max_length=4000)

    def command(self, number: str) -> WorkCommand:
        said = self.model_dump()
        said["kind"] = said.pop("response")
        return _read(Respond, number, said)


class StatusIn(WorkIn):
    status: str = Field(min_length=1, max_length=200, description="One of the 13 service statuses.")

    def command(self, number: str) -> WorkCommand:
        return _read(SetStatus, number, self.model_dump())


class NoteIn(WorkIn):
    text: str = Field(min_length=1, max_length=4000, description="What happened.")

    def command(self, number: str) -> WorkCommand:
        return _read(AddNote, number, self.model_dump())


class AppliedOut(BaseModel):
    """What was done, or that nothing changed (a repeat) and why."""

    number: str
    changed: bool
    summary: str
    by: str

    @classmethod
    def of(cls, applied: Applied) -> AppliedOut:
        return cls(
            number=applied.number,
            changed=applied.changed,
            summary=applied.summary,
            by=applied.actor,
        )


def _apply(request: Request, staff_id: int, command: WorkCommand) -> AppliedOut:
    with acting(request, staff_id) as (session, actor):
        return AppliedOut.of(apply(session, actor=actor, command=command, channel=Channel.API))


@router.post("/{number}/assign", response_model=AppliedOut)
def assign(number: str, body: AssignIn, request: Request, staff_id: StaffId) -> AppliedOut:
    """Give the referral to a provider of your program (gatekeepers), or hand it on."""
    return _apply(request, staff_id, body.command(number))


@router.post("/{number}/respond", response_model=AppliedOut)
def respond(number: str, body: RespondIn, request: Request, staff_id: StaffId) -> AppliedOut:
    """Accept, tentatively accept with a provision, or decline with a reason."""
    return _apply(request, staff_id, body.command(number))


@router.post("/{number}/status", response_model=AppliedOut)
def status(number: str, body: StatusIn, request: Request, staff_id: StaffId) -> AppliedOut:
    """Set your program's service status for the referral."""
    return _apply(request, staff_id, body.command(number))


@router.post("/{number}/notes", response_model=AppliedOut)
def note(number: str, body: NoteIn, request: Request, staff_id: StaffId) -> AppliedOut:
    """Add a note to your program's call log for the referral."""
    return _apply(request, staff_id, body.command(number))
