"""What the API reads and answers for the referring side: edits, recipient previews, program
listings and capacity (the rest of the API's shapes are in schemas.py)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

from bot.commands import CapacityChange, ReferralEdit
from bot.domain.routing import Refusal
from bot.domain.vocab import ReferralState
from bot.services.preview import Preview, ProgramLine
from bot.services.programs import CapacityResult, ProgramListing
from bot.services.revise import Revision
from handlers.api.schemas import Out, PublishOut


class ReferralEditIn(ReferralEdit):
    """The fields to change; those left out stay as they are."""


class PreviewLineOut(Out):
    """A program in a preview: a recipient, or refused with its reason."""

    program: str
    program_name: str
    agency: str
    capacity: str | None
    no_capacity: bool
    receiving_now: bool
    reason: Refusal | None
    why: str | None


class PreviewOut(Out):
    """Who a (re-)publish would reach now, and who it would leave out and why. Programs only:
    never a client."""

    number: str
    receiving: list[PreviewLineOut]
    refused: list[PreviewLineOut]
    fixes: list[str]

    @classmethod
    def of(cls, preview: Preview) -> PreviewOut:
        def line(item: ProgramLine) -> PreviewLineOut:
            return PreviewLineOut(
                program=item.key,
                program_name=item.name,
                agency=item.agency,
                capacity=item.capacity,
                no_capacity=item.no_capacity,
                receiving_now=item.receiving_now,
                reason=item.reason,
                why=item.why,
            )

        return cls(
            number=preview.number,
            receiving=[line(i) for i in preview.receiving],
            refused=[line(i) for i in preview.refused],
            fixes=list(preview.fixes),
        )


class RevisionOut(Out):
    """An edit, and the re-publish that followed it when the referral was out already."""

    number: str
    state: ReferralState
    changed: list[str]
    published: PublishOut | None

    @classmethod
    def of(cls, revision: Revision) -> RevisionOut:
        return cls(
            number=revision.number,
            state=revision.state,
            changed=revision.changed,
            published=PublishOut.of(revision.published) if revision.published else None,
        )


class ProgramOut(Out):
    """A program as a coordinator weighs it before referring."""

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
    receives: bool

    @classmethod
    def of(cls, listing: ProgramListing) -> ProgramOut:
        return cls.model_validate({**asdict(listing), "receives": listing.receives})


class CapacityIn(CapacityChange):
    """A capacity as the program's gatekeeper states it."""


class CapacityOut(Out):
    program: str
    program_name: str
    capacity: str | None
    changed: bool

    @classmethod
    def of(cls, result: CapacityResult) -> CapacityOut:
        return cls(
            program=result.program_key,
            program_name=result.program,
            capacity=result.capacity,
            changed=result.changed,
        )
