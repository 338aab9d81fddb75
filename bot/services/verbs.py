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
from bot.texts import render


@dataclass(frozen=True)
class Applied:
    """What a channel needs to answer: who acted, on which referral, and what changed (or, for a
    repeat such as a double click or a re-delivered email, that nothing did and why)."""

    actor: str
    number: str
    referral_id: int | None
    changed: bool
    summary: str

    @property
    def answer(self) -> str:
        """The summary as said to the person who acted."""
        return render("verbs/answer.txt", changed=self.changed, summary=self.summary)


def apply(session: Session, *, actor: Actor, command: WorkCommand, channel: Channel) -> Applied:
    """Carry out `command` for `actor` in the caller's transaction; a UserError if refused."""
    handler: Callable[[Session, Actor, Any, Channel], Applied] = _APPLY[type(command)]
    return handler(session, actor, command, channel)


def _worked(actor: Actor, result: work.WorkResult) -> Applied:
    return Applied(actor.name, result.number, result.referral_id, result.changed, result.summary)


def _assign(session: Session, actor: Actor, cmd: Assign, channel: Channel) -> Applied:
    result = work.assign_referral(
        session,
        actor=actor,
        number=cmd.number,
        provider=cmd.provider,
        program=cmd.program,
        reassign=cmd.reassign,
        channel=channel,
    )
    return _worked(actor, result)


def _respond(session: Session, actor: Actor, cmd: Respond, channel: Channel) -> Applied:
    result = work.respond_to_referral(
        session,
        actor=actor,
        number=cmd.number,
        kind=cmd.kind,
        reason=cmd.reason,
        comment=cmd.comment,
        program=cmd.program,
        channel=channel,
    )
    return _worked(actor, result)


def _status(session: Session, actor: Actor, cmd: SetStatus, channel: Channel) -> Applied:
    result = work.set_service_status(
        session,
        actor=actor,
        number=cmd.number,
        status=cmd.status,
        program=cmd.program,
        channel=channel,
    )
    return _worked(actor, result)


def _note(session: Session, actor: Actor, cmd: AddNote, channel: Channel) -> Applied:
    result = work.add_note(
        session, actor=actor, number=cmd.number, text=cmd.text, program=cmd.program, channel=channel
    )
    return _worked(actor, result)


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
    return Applied(actor.name, result.number, result.referral_id, True, summary)


def _republish(session: Session, actor: Actor, cmd: Republish, channel: Channel) -> Applied:
    result = referrals.republish_referral(session, actor=actor, number=cmd.number, channel=channel)
    summary = render(
        "verbs/republished.txt",
        number=result.number,
        programs=len(result.programs),
        joined=result.joined,
    )
    return Applied(actor.name, result.number, result.referral_id, True, summary)


_APPLY: dict[type, Callable[[Session, Actor, Any, Channel], Applied]] = {
    Assign: _assign,
    Respond: _respond,
    SetStatus: _status,
    AddNote: _note,
    MarkPending: _pending,
    Close: _close,
    Republish: _republish,
}
