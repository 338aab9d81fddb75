"""Edit a referral and, when it is out already, publish it again in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot.commands import ReferralEdit, parse
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, ReferralState
from bot.services.referrals import PublishResult, edit_referral, republish_referral


@dataclass(frozen=True)
class Revision:
    number: str
    state: ReferralState
    changed: list[str]
    published: PublishResult | None


def revise_referral(
    session: Session,
    *,
    actor: Actor,
    number: str,
    edit: ReferralEdit | dict[str, Any],
    channel: Channel,
    republish: bool = True,
    confirm_no_capacity: bool = False,
) -> Revision:
    """The edit, then (for an open or pending referral, when asked) the re-publish: programs
    newly matching join and are told, those no longer matching leave (DOMAIN.md, Routing)."""
    data = parse(ReferralEdit, edit)
    referral = edit_referral(session, actor=actor, number=number, edit=data, channel=channel)
    changed = sorted(data.model_dump(exclude_none=True))
    published = None
    if republish and referral.state in (ReferralState.OPEN, ReferralState.PENDING_PLACEMENT):
        published = republish_referral(
            session,
            actor=actor,
            number=number,
            channel=channel,
            confirm_no_capacity=confirm_no_capacity,
        )
    return Revision(referral.number or number, referral.state, changed, published)
