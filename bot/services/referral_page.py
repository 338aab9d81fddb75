"""Everything the web's referral page shows, for one person: details and history for those with
a role on the referral, the minimum for people who only work at one of its programs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, Role
from bot.errors import NotFound
from bot.notify import referral_brief
from bot.services.lookup import visible_referral
from bot.services.referrals import view_referral
from storage.models import AuditEvent, Client, Recipient, Referral


@dataclass(frozen=True)
class ReferralPage:
    referral: Referral
    brief: dict[str, Any]
    # None unless the person has a role on the referral (the read is then audited).
    client: Client | None
    # The programs shown: every recipient for coordinators and admins, else the person's own.
    programs: list[Recipient]
    audit: list[AuditEvent]

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
        return ReferralPage(referral, referral_brief(session, referral), None, programs, [])
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
    return ReferralPage(
        referral, referral_brief(session, referral), details.client, programs, audit
    )


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
