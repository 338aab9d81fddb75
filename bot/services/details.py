"""A referral with its client's details, for people with a role on it; every read audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.audit import record
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.services.lookup import visible_referral
from storage.models import Client, Recipient, Referral


@dataclass(frozen=True)
class ReferralDetails:
    """Everything about a referral, client included: only for people with a role on it."""

    referral: Referral
    client: Client
    recipients: list[Recipient]


def view_referral(
    session: Session, *, actor: Actor, number: str, channel: Channel
) -> ReferralDetails:
    """Read a referral with its client's details; the read itself is audited."""
    referral = visible_referral(session, actor, number, details=True)
    record(
        session,
        actor=actor,
        channel=channel,
        action="client_data_viewed",
        referral_id=referral.id,
        client_id=referral.client_id,
    )
    return ReferralDetails(referral, referral.client, [r for r in referral.recipients if r.active])
