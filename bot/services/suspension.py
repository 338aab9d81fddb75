"""No-referral status: a program suspended receives nothing; resumed, it joins (and hears of)
every open referral it matches."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.audit import record
from bot.context import now
from bot.domain.permissions import Actor, require_may_suspend
from bot.domain.vocab import Channel
from bot.services.lookup import program_named
from bot.services.routing import join_open_referrals


@dataclass(frozen=True)
class SuspensionResult:
    program: str
    suspended: bool
    changed: bool
    joined: int


def suspend_program(
    session: Session, *, actor: Actor, program: str, channel: Channel
) -> SuspensionResult:
    """No-referral status: the program receives nothing until it is resumed."""
    found = program_named(session, program)
    require_may_suspend(actor, program_id=found.id, program_name=found.name)
    if found.suspended:
        return SuspensionResult(found.name, True, False, 0)
    found.suspended = True
    found.suspended_at = now(session)
    record(session, actor=actor, channel=channel, action="program_suspended", program_id=found.id)
    return SuspensionResult(found.name, True, True, 0)


def resume_program(
    session: Session, *, actor: Actor, program: str, channel: Channel
) -> SuspensionResult:
    """Lift no-referral status: the program joins, and hears of, every open referral it matches."""
    found = program_named(session, program)
    require_may_suspend(actor, program_id=found.id, program_name=found.name)
    if not found.suspended:
        return SuspensionResult(found.name, False, False, 0)
    found.suspended = False
    found.suspended_at = None
    record(session, actor=actor, channel=channel, action="program_resumed", program_id=found.id)
    session.flush()
    joined = join_open_referrals(session, [found.id], how="resumed", actor=actor, channel=channel)
    return SuspensionResult(found.name, False, True, joined)
