"""A gatekeeper's program capacity stated by email ("capacity waitlist 12"), the way Slack and
the web take it: one program, not a referral, so it bypasses the referral work verbs."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.domain.capacity import read_capacity
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.services import programs
from bot.services.verbs import Applied
from handlers.email.commands import ParsedCommand


def capacity_stated(session: Session, actor: Actor, command: ParsedCommand) -> Applied:
    """A gatekeeper's "capacity waitlist 12" (say, in answer to the 30-day reminder)."""
    said = read_capacity((command.argument or "").split())
    result = programs.set_capacity(
        session,
        actor=actor,
        program=said.program,
        change={"status": said.status.value, "waitlist": said.waitlist, "until": said.until},
        channel=Channel.EMAIL,
    )
    summary = f"{result.program} now has {result.capacity}."
    if not result.changed:
        summary = f"{result.program} already has {result.capacity}."
    return Applied(result.program, result.program, None, result.changed, summary)
