"""Everything the web's referral page shows, for one person: details and history for those with
a role on the referral, the minimum for people who only work at one of its programs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.domain.lifecycle import allows
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, Role
from bot.errors import NotFound
from bot.notify import referral_brief
from bot.services.lookup import visible_referral
from bot.services.referrals import view_referral
from bot.services.work import providers_of
from storage.models import AuditEvent, Client, Recipient, Referral, Staff


@dataclass(frozen=True)
class PageForms:
    """The forms the page offers: assign (program -> providers to choose from), respond and
    service status (programs), notes (programs), and the coordinator's lifecycle actions."""

    assign: dict[int, list[Staff]]
    work: set[int]
    note: set[int]
    lifecycle: list[str]


@dataclass(frozen=True)
class ReferralPage:
    referral: Referral
    brief: dict[str, Any]
    # None unless the person has a role on the referral (the read is then audited).
    client: Client | None
    # The programs shown: every recipient for coordinators and admins, else the person's own.
    programs: list[Recipient]
    audit: list[AuditEvent]
    # What the person may do from the page (the use cases check again when they do it).
    forms: PageForms = field(default_factory=lambda: PageForms({}, set(), set(), []))

    @property
    def has_role(self) -> bool:
        return self.client is not None


def referral_page(session: Session, *, actor: Actor, number: str) -> ReferralPage:
    try:
        details = view_referral(session, actor=actor, number=number, channel=Channel.WEB)
    except NotFound:
        # Not a role-holder: the same refusal as a wrong number unless they work at a recipient.
        referral = visible_referral(session, actor, number)
        mine = actor.programs(Role.GATEKEEPER, Role.PROVIDER)
        programs = [r for r in referral.recipients if r.active and r.program_id in mine]
        forms = _forms(session, actor, referral, programs)
        return ReferralPage(referral, referral_brief(session, referral), None, programs, [], forms)
    referral = details.referral
    programs = _programs_shown(actor, referral, details.recipients)
    shown = {r.program_id for r in programs}
    audit = list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.referral_id == referral.id,
                or_(AuditEvent.program_id.is_(None), AuditEvent.program_id.in_(shown)),
            )
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )
    forms = _forms(session, actor, referral, programs)
    return ReferralPage(
        referral, referral_brief(session, referral), details.client, programs, audit, forms
    )


def _forms(
    session: Session, actor: Actor, referral: Referral, programs: list[Recipient]
) -> PageForms:
    workable = allows(referral.state, "work")
    gatekeeping = actor.programs(Role.GATEKEEPER)
    mine = {
        r.program_id
        for r in programs
        if r.program_id in gatekeeping
        or (actor.has(Role.PROVIDER, program_id=r.program_id) and r.assignee_id == actor.staff_id)
    }
    assign = {
        r.program_id: providers_of(session, r.program_id)
        for r in programs
        # A gatekeeper assigns; the provider holding it may hand it on.
        if workable and (r.program_id in gatekeeping or r.assignee_id == actor.staff_id)
    }
    owner = actor.is_admin or actor.staff_id == referral.primary_coordinator_id
    lifecycle = [
        a for a in ("pending", "close", "republish", "edit") if owner and allows(referral.state, a)
    ]
    return PageForms(assign, mine if workable else set(), mine, lifecycle)


def _programs_shown(actor: Actor, referral: Referral, active: list[Recipient]) -> list[Recipient]:
    """A program's call log and responses are for the referral's coordinators and that
    program's people: a gatekeeper elsewhere does not read a competitor's notes."""
    if (
        actor.is_admin
        or actor.staff_id == referral.primary_coordinator_id
        or actor.coordinates([c.id for c in referral.counties], referral.statewide)
    ):
        return active
    gatekeeping = actor.programs(Role.GATEKEEPER)
    return [
        r
        for r in active
        if r.program_id in gatekeeping
        or (actor.has(Role.PROVIDER, program_id=r.program_id) and r.assignee_id == actor.staff_id)
    ]
