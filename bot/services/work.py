"""Recipient programs' use cases: assign, respond, service status, notes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.audit import record
from bot.context import now
from bot.domain.lifecycle import check_transition
from bot.domain.permissions import Actor, require_gatekeeper, require_may_work
from bot.domain.vocab import (
    FHIR_TASK_STATUS,
    RESPONSE_WORDS,
    Channel,
    ResponseKind,
    Role,
    ServiceStatus,
    match_choice,
    read_reason,
)
from bot.errors import Conflict, Forbidden, InvalidInput
from bot.notify import notify, referral_brief
from bot.services.lookup import staff_named, visible_referral
from bot.services.pools import providers_of
from storage.db import lock_row
from storage.models import Note, Recipient, Referral, ResponseVersion, Staff


@dataclass(frozen=True)
class WorkResult:
    """What happened, for the channel to confirm: `changed` is False for a repeat (a double
    click, a re-delivered email), which changes nothing and tells nobody."""

    number: str
    program: str
    changed: bool
    summary: str
    referral_id: int | None = None


def recipient_for(
    session: Session, actor: Actor, referral: Referral, program: str | None, *, roles: set[Role]
) -> Recipient:
    """The recipient program the actor acts for: the one named, or the only one they work at."""
    active = [r for r in referral.recipients if r.active]
    if program is not None:
        wanted = program.strip().lower()
        named = [r for r in active if wanted in (r.program.key.lower(), r.program.name.lower())]
        if not named:
            raise InvalidInput(f'"{program}" does not receive {referral.number}.', field="program")
        return named[0]
    mine = [r for r in active if any(actor.has(role, program_id=r.program_id) for role in roles)]
    if len(mine) == 1:
        return mine[0]
    if not mine:
        return _no_program(referral, active)
    raise InvalidInput(
        f"You work at more than one program that receives {referral.number}: "
        + ", ".join(r.program.name for r in mine)
        + ".",
        field="program",
        hint="Say which program you act for.",
    )


def _workable(
    session: Session, actor: Actor, number: str, program: str | None, *, open_only: bool = True
) -> tuple[Referral, Recipient]:
    """The referral and the recipient program the actor works it for, when they may: a
    gatekeeper of the program or its assigned provider. Locked when `open_only`."""
    referral = visible_referral(session, actor, number)
    shown = referral.number or number
    if open_only:
        check_transition(shown, referral.state, "work")
    recipient = recipient_for(
        session, actor, referral, program, roles={Role.GATEKEEPER, Role.PROVIDER}
    )
    if open_only:
        lock_row(session, recipient)
    require_may_work(
        actor,
        program_id=recipient.program_id,
        program_name=recipient.program.name,
        assignee_id=recipient.assignee_id,
        number=shown,
    )
    return referral, recipient


def _no_program(referral: Referral, active: list[Recipient]) -> Recipient:
    raise Forbidden(f"None of your programs receives {referral.number}, so you cannot act on it.")


def assign_referral(
    session: Session,
    *,
    actor: Actor,
    number: str,
    provider: str | int,
    channel: Channel,
    program: str | None = None,
    reassign: bool = False,
) -> WorkResult:
    """A gatekeeper gives the referral to one provider of the program (or themselves). A provider
    holding it may hand it on to another provider of the program (reassign)."""
    referral = visible_referral(session, actor, number)
    number = referral.number or number
    check_transition(number, referral.state, "work")
    recipient = recipient_for(
        session, actor, referral, program, roles={Role.GATEKEEPER, Role.PROVIDER}
    )
    # Two gatekeepers clicking Assign at once: the row lock makes the second wait and then see
    # the first one's assignment instead of overwriting it.
    lock_row(session, recipient)
    program_name = recipient.program.name
    holder = recipient.assignee
    handing_back = (
        reassign
        and holder is not None
        and holder.id == actor.staff_id
        and actor.has(Role.PROVIDER, program_id=recipient.program_id)
    )
    if not handing_back:
        require_gatekeeper(actor, program_id=recipient.program_id, program_name=program_name)
    pool = providers_of(session, recipient.program_id)
    person = (
        session.get(Staff, provider)
        if isinstance(provider, int)
        else staff_named(session, provider, among=pool)
    )
    if person is None or person not in pool:
        who = person.name if person else str(provider)
        raise InvalidInput(
            f"{who} is not a provider of {program_name}.",
            field="provider",
            hint="Choose one of: " + ", ".join(s.name for s in pool) + ".",
        )
    if holder is not None and holder.id == person.id:
        return WorkResult(
            number,
            program_name,
            False,
            f"{number} is already assigned to {person.name}.",
            referral.id,
        )
    if holder is not None and not reassign:
        raise Conflict(
            f"{number} is already assigned to {holder.name} at {program_name}.",
            hint="Use reassign to give it to someone else.",
        )
    recipient.assignee_id = person.id
    recipient.assigned_at = now(session)
    kind = "referral_reassigned" if holder is not None else "referral_assigned"
    event = record(
        session,
        actor=actor,
        channel=channel,
        action=kind,
        referral_id=referral.id,
        program_id=recipient.program_id,
        provider=person.email,
        previous=holder.email if holder else None,
    )
    payload = {
        **referral_brief(session, referral),
        "program": program_name,
        "program_key": recipient.program.key,
        "provider_name": person.name,
        "assigned_by": actor.name,
    }
    notify(
        session,
        event=event,
        kind=kind,
        people=[person],
        payload={**payload, "audience": "provider"},
        referral_id=referral.id,
        skip_staff_id=actor.staff_id,
    )
    notify(
        session,
        event=event,
        kind=kind,
        people=[referral.primary_coordinator],
        payload={**payload, "audience": "coordinator"},
        referral_id=referral.id,
        skip_staff_id=actor.staff_id,
    )
    verb = "reassigned" if holder is not None else "assigned"
    return WorkResult(
        number,
        program_name,
        True,
        f"{number} {verb} to {person.name} at {program_name}.",
        referral.id,
    )


def respond_to_referral(
    session: Session,
    *,
    actor: Actor,
    number: str,
    kind: ResponseKind | str,
    channel: Channel,
    reason: str | None = None,
    comment: str | None = None,
    program: str | None = None,
) -> WorkResult:
    """Accept, tentatively accept with a provision, or decline with a reason; every version kept."""
    response = match_choice(str(kind), ResponseKind, field="response")
    referral, recipient = _workable(session, actor, number, program)
    number = referral.number or number
    reason_value = read_reason(response, reason)
    text = (comment or "").strip() or None
    if (
        recipient.response == response
        and recipient.response_reason == reason_value
        and (recipient.response_comment or None) == text
    ):
        return WorkResult(
            number, recipient.program.name, False, "That response is already recorded.", referral.id
        )
    edited = recipient.response is not None
    moment = now(session)
    recipient.response = response
    recipient.response_reason = reason_value
    recipient.response_comment = text
    recipient.responded_at = moment
    recipient.response_version += 1
    session.add(
        ResponseVersion(
            recipient_id=recipient.id,
            version=recipient.response_version,
            kind=response,
            reason=reason_value,
            comment=text,
            actor_id=actor.staff_id,
            channel=str(channel),
            created_at=moment,
        )
    )
    action = "response_edited" if edited else "response_given"
    event = record(
        session,
        actor=actor,
        channel=channel,
        action=action,
        referral_id=referral.id,
        program_id=recipient.program_id,
        response=str(response),
        reason=reason_value,
        version=recipient.response_version,
    )
    notify(
        session,
        event=event,
        kind=action,
        people=[referral.primary_coordinator],
        payload={
            **referral_brief(session, referral),
            "program": recipient.program.name,
            "response": str(response),
            "reason": reason_value,
            "comment": text,
            "responder": actor.name,
            "version": recipient.response_version,
        },
        referral_id=referral.id,
        skip_staff_id=actor.staff_id,
    )
    said = RESPONSE_WORDS[response] + (f" ({reason_value})" if reason_value else "")
    return WorkResult(
        number,
        recipient.program.name,
        True,
        f"{number} {said} for {recipient.program.name}.",
        referral.id,
    )


def set_service_status(
    session: Session,
    *,
    actor: Actor,
    number: str,
    status: ServiceStatus | str,
    channel: Channel,
    program: str | None = None,
) -> WorkResult:
    value = match_choice(str(status), ServiceStatus, field="service status")
    referral, recipient = _workable(session, actor, number, program)
    number = referral.number or number
    if recipient.service_status == value:
        return WorkResult(
            number,
            recipient.program.name,
            False,
            f"{number} is already {value.value}.",
            referral.id,
        )
    recipient.service_status = value
    recipient.service_status_at = now(session)
    event = record(
        session,
        actor=actor,
        channel=channel,
        action="service_status_changed",
        referral_id=referral.id,
        program_id=recipient.program_id,
        status=value.value,
        fhir_task_status=FHIR_TASK_STATUS[value],
    )
    notify(
        session,
        event=event,
        kind="service_status_changed",
        people=[referral.primary_coordinator],
        payload={
            **referral_brief(session, referral),
            "program": recipient.program.name,
            "status": value.value,
            "by": actor.name,
        },
        referral_id=referral.id,
        skip_staff_id=actor.staff_id,
    )
    return WorkResult(
        number,
        recipient.program.name,
        True,
        f"{number} at {recipient.program.name}: {value.value}.",
        referral.id,
    )


def add_note(
    session: Session,
    *,
    actor: Actor,
    number: str,
    text: str,
    channel: Channel,
    program: str | None = None,
) -> WorkResult:
    body = text.strip()
    if not body:
        raise InvalidInput(
            "The note is empty.",
            field="text",
            hint="Write what happened, e.g. note left a voicemail.",
        )
    # A call log stays open after the referral closes: no state check, no row lock.
    referral, recipient = _workable(session, actor, number, program, open_only=False)
    number = referral.number or number
    session.add(
        Note(
            recipient_id=recipient.id,
            author_id=actor.staff_id,
            text=body[:4000],
            channel=str(channel),
            created_at=now(session),
        )
    )
    record(
        session,
        actor=actor,
        channel=channel,
        action="note_added",
        referral_id=referral.id,
        program_id=recipient.program_id,
    )
    return WorkResult(number, recipient.program.name, True, f"Note added to {number}.", referral.id)
