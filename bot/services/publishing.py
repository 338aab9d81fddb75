"""What publishing shares: routing a referral with the network's refusals, and announcing a
(re-)publish to the recipients' gatekeepers and the referral's coordinators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit import record
from bot.context import today
from bot.domain.permissions import Actor
from bot.domain.vocab import ACTIVE_STATES, Channel
from bot.errors import Conflict
from bot.notify import (
    coordinators_for,
    enqueue_many,
    gatekeepers_by_program,
    outbox_rows,
    referral_brief,
)
from bot.services.preview import NoRecipients, preview_of
from bot.services.routing import consented_programs, recipients_now
from storage.models import Program, Recipient, Referral


@dataclass(frozen=True)
class PublishResult:
    number: str
    programs: list[str]
    joined: list[str]
    left: list[str]
    notified: int
    referral_id: int | None = None


def route_checked(session: Session, referral: Referral) -> set[int]:
    """Route, refusing what the network forbids: no consent where it is required, or a second
    active referral of the same client to the same program."""
    programs = recipients_now(session, referral)
    consented = consented_programs(session, referral.client_id, today(session))
    if consented is not None and not consented:
        raise Conflict(
            f"{referral.number} cannot be published: the client has no active consent "
            "(release of information), and this network requires one.",
            field="consent",
            hint="Record the client's signed consent for the programs, then publish.",
        )
    if not programs:
        raise NoRecipients(preview_of(session, referral), list(referral.needs))
    # The client's other active referrals' recipients, matched here rather than sent as
    # 3,000 parameters for a statewide referral.
    clashes = [
        (other, name)
        for other, name, program_id in session.execute(
            select(Referral.number, Program.name, Program.id)
            .join(Recipient, Recipient.referral_id == Referral.id)
            .join(Program, Program.id == Recipient.program_id)
            .where(
                Referral.client_id == referral.client_id,
                Referral.id != referral.id,
                Referral.state.in_(ACTIVE_STATES),
                Recipient.active.is_(True),
            )
            .order_by(Referral.number, Program.name)
        )
        if program_id in programs
    ]
    if clashes:
        listing = "; ".join(f"{name} (already has {other})" for other, name in clashes)
        raise Conflict(
            f"{referral.number} cannot be published: the client already has an active referral "
            f"to {listing}.",
            field="programs",
            hint="Exclude those programs, or close the other referral first.",
        )
    return programs


def program_names(session: Session, program_ids: set[int]) -> list[str]:
    if not program_ids:
        return []
    return sorted(session.scalars(select(Program.name).where(Program.id.in_(program_ids))))


def announce(
    session: Session,
    referral: Referral,
    actor: Actor,
    channel: Channel,
    kind: str,
    *,
    joined: list[str],
    left: list[str],
    extra: dict[str, Any] | None = None,
    audit: dict[str, Any] | None = None,
) -> PublishResult:
    """Audit the change and tell recipients' gatekeepers and the referral's coordinators
    (`audit` is recorded but not sent)."""
    # Set-based: a statewide referral has thousands of recipients (docs/benchmarks.md).
    active = session.execute(
        select(Program.id, Program.name, Program.key)
        .join(Recipient, Recipient.program_id == Program.id)
        .where(Recipient.referral_id == referral.id, Recipient.active.is_(True))
        .order_by(Program.id)
    ).all()
    programs = sorted(name for _, name, _ in active)
    event = record(
        session,
        actor=actor,
        channel=channel,
        action=kind,
        referral_id=referral.id,
        programs=programs,
        joined=joined,
        left=left,
        **(extra or {}),
        **(audit or {}),
    )
    payload = {**referral_brief(session, referral), **(extra or {})}
    gatekeepers = gatekeepers_by_program(session, [pid for pid, _, _ in active])
    rows: list[dict[str, Any]] = []
    for program_id, name, key in active:
        rows += outbox_rows(
            session,
            event=event,
            kind=kind,
            people=gatekeepers[program_id],
            payload={**payload, "program": name, "program_key": key, "audience": "gatekeeper"},
            referral_id=referral.id,
            skip_staff_id=actor.staff_id,
            scope=f":p{program_id}",
        )
    rows += outbox_rows(
        session,
        event=event,
        kind=kind,
        people=coordinators_for(session, referral),
        payload={**payload, "programs": programs, "audience": "coordinator"},
        referral_id=referral.id,
        skip_staff_id=actor.staff_id,
    )
    enqueue_many(session, rows)
    return PublishResult(referral.number or "", programs, joined, left, len(rows), referral.id)
