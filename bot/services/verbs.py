"""The one function that carries out a work verb, whichever channel it came from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot.commands import (
    AddNote,
    Assign,
    Close,
    MarkPending,
    Republish,
    Respond,
    SetStatus,
    WorkCommand,
)
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.services import referrals, work
from bot.services.referrals import PublishResult
from bot.texts import render

WorkVerb = Assign | Respond | SetStatus | AddNote


@dataclass(frozen=True)
class Applied:
    """What a channel needs to answer: who acted, on which referral, and what changed (or, for a
    repeat such as a double click or a re-delivered email, that nothing did and why)."""

    actor: str
    number: str
    referral_id: int | None
    changed: bool
    summary: str
    # What a close or a republish did to the recipient list (the API answers with it).
    published: PublishResult | None = None

    @property
    def answer(self) -> str:
        """The summary as said to the person who acted."""
        return render("verbs/answer.txt", changed=self.changed, summary=self.summary)


def apply(session: Session, *, actor: Actor, command: WorkCommand, channel: Channel) -> Applied:
    """Carry out `command` for `actor` in the caller's transaction; a UserError if refused."""
    handler: Callable[[Session, Actor, Any, Channel], Applied] = _APPLY[type(command)]
    return handler(session, actor, command, channel)


def _work(session: Session, actor: Actor, cmd: WorkVerb, channel: Channel) -> Applied:
    """Assign, respond, status, note: the command's fields are the use case's arguments."""
    use_case = _WORK[type(cmd)]
    result = use_case(session, actor=actor, channel=channel, **cmd.arguments())
    return Applied(actor.name, result.number, result.referral_id, result.changed, result.summary)


_WORK: dict[type, Callable[..., work.WorkResult]] = {
    Assign: work.assign_referral,
    Respond: work.respond_to_referral,
    SetStatus: work.set_service_status,
    AddNote: work.add_note,
}


def _pending(session: Session, actor: Actor, cmd: MarkPending, channel: Channel) -> Applied:
    referral = referrals.mark_pending_placement(
        session, actor=actor, number=cmd.number, channel=channel
    )
    number = referral.number or cmd.number
    summary = render("verbs/pending.txt", number=number)
    return Applied(actor.name, number, referral.id, True, summary)


def _close(session: Session, actor: Actor, cmd: Close, channel: Channel) -> Applied:
    closing = {"outcome": cmd.outcome.value, "reason": cmd.reason}
    result = referrals.close_referral(
        session, actor=actor, number=cmd.number, closing=closing, channel=channel
    )
    summary = render(
        "verbs/closed.txt",
        number=result.number,
        outcome=cmd.outcome.value,
        notified=result.notified,
    )
    return Applied(actor.name, result.number, result.referral_id, True, summary, result)


def _republish(session: Session, actor: Actor, cmd: Republish, channel: Channel) -> Applied:
    result = referrals.republish_referral(session, actor=actor, number=cmd.number, channel=channel)
    summary = render(
        "verbs/republished.txt",
        number=result.number,
        programs=len(result.programs),
        joined=result.joined,
    )
    return Applied(actor.name, result.number, result.referral_id, True, summary, result)


_APPLY: dict[type, Callable[[Session, Actor, Any, Channel], Applied]] = {
    **dict.fromkeys(_WORK, _work),
    MarkPending: _pending,
    Close: _close,
    Republish: _republish,
}
