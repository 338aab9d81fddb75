"""Reading referrals as FHIR: a Task per referral and program, its ServiceRequest and Patient;
every read audited, client details only through view_referral's audited path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.audit import record
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, ReferralState
from bot.errors import InvalidInput, NotFound
from bot.interop import fhir
from bot.interop.fhir import Systems
from bot.services.lookup import visible_referral
from bot.services.referrals import view_referral
from storage.models import Program, Recipient, Referral, ServiceCode

MAX_COUNT = 200


def _no_task(task_id: int) -> NotFound:
    return NotFound(f"There is no Task {task_id} that you can see.", field="id")


def visible_task(session: Session, actor: Actor, task_id: int) -> Recipient:
    """The recipient row behind Task `task_id`, if the actor may see its referral (the same
    answer for a wrong id and for another program's Task)."""
    recipient = session.get(Recipient, task_id)
    if recipient is None or recipient.referral.number is None:
        raise _no_task(task_id)
    try:
        visible_referral(session, actor, recipient.referral.number)
    except NotFound:
        raise _no_task(task_id) from None
    return recipient


def read_task(
    session: Session, *, actor: Actor, task_id: int, systems: Systems, channel: Channel
) -> dict[str, Any]:
    recipient = visible_task(session, actor, task_id)
    record(
        session,
        actor=actor,
        channel=channel,
        action="fhir_task_read",
        referral_id=recipient.referral_id,
        program_id=recipient.program_id,
    )
    return fhir.task(recipient.referral, recipient, systems)


def parse_last_updated(values: list[str]) -> list[tuple[str, datetime]]:
    """FHIR date search values (`ge2026-03-01`, `lt2026-03-02T10:00:00Z`) as (prefix, moment)."""
    out = []
    for raw in values:
        prefix, text = (
            (raw[:2], raw[2:]) if raw[:2] in ("ge", "gt", "le", "lt", "eq") else ("eq", raw)
        )
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                f'"{raw}" is not a date for _lastUpdated.',
                field="_lastUpdated",
                hint="Write it as ge2026-03-01 or lt2026-03-02T10:00:00Z.",
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        out.append((prefix, moment))
    return out


def search_tasks(
    session: Session,
    *,
    actor: Actor,
    systems: Systems,
    channel: Channel,
    owner: str | None = None,
    status: list[str] | None = None,
    last_updated: list[str] | None = None,
    count: int = 50,
) -> list[dict[str, Any]]:
    """Tasks the actor may see, newest first: by owner (Organization/<program key>), status (one
    of a comma-separated list) and _lastUpdated (ge/gt/le/lt)."""
    query = (
        select(Recipient)
        .join(Referral, Referral.id == Recipient.referral_id)
        .where(Referral.state != ReferralState.DRAFT)
        .order_by(Recipient.id.desc())
    )
    if owner:
        key = owner.removeprefix("Organization/")
        program = session.scalar(select(Program).where(Program.key == key))
        if program is None:
            return []
        query = query.where(Recipient.program_id == program.id)
    stamps = [
        Recipient.joined_at,
        Recipient.assigned_at,
        Recipient.responded_at,
        Recipient.service_status_at,
        Recipient.left_at,
        Referral.last_published_at,
        Referral.pending_at,
        Referral.closed_at,
        Referral.deleted_at,
    ]
    for prefix, moment in parse_last_updated(last_updated or []):
        # lastUpdated is the latest of the stamps: "after X" when any is, "before X" when all are.
        if prefix in ("ge", "gt", "eq"):
            query = query.where(
                or_(*[s >= moment if prefix != "gt" else s > moment for s in stamps])
            )
        if prefix in ("le", "lt"):
            query = query.where(
                and_(
                    *[
                        or_(s.is_(None), s <= moment if prefix == "le" else s < moment)
                        for s in stamps
                    ]
                )
            )
    wanted = {s for value in status or [] for s in value.split(",") if s}
    found: list[dict[str, Any]] = []
    seen: dict[int, bool] = {}
    for recipient in session.scalars(query):
        referral = recipient.referral
        if referral.id not in seen:
            try:
                visible_referral(session, actor, referral.number or "")
                seen[referral.id] = True
            except NotFound:
                seen[referral.id] = False
        if not seen[referral.id]:
            continue
        if wanted and fhir.current_status(referral, recipient) not in wanted:
            continue
        found.append(fhir.task(referral, recipient, systems))
        if len(found) >= min(count, MAX_COUNT):
            break
    record(
        session,
        actor=actor,
        channel=channel,
        action="fhir_tasks_searched",
        tasks=[int(t["id"]) for t in found],
    )
    return found


def _referral_by_id(session: Session, referral_id: int) -> Referral:
    referral = session.get(Referral, referral_id)
    if referral is None or referral.number is None:
        raise NotFound(f"There is no ServiceRequest {referral_id} that you can see.", field="id")
    return referral


def read_service_request(
    session: Session, *, actor: Actor, referral_id: int, systems: Systems, channel: Channel
) -> dict[str, Any]:
    referral = _referral_by_id(session, referral_id)
    try:
        details = view_referral(session, actor=actor, number=referral.number or "", channel=channel)
    except NotFound:
        raise NotFound(
            f"There is no ServiceRequest {referral_id} that you can see.", field="id"
        ) from None
    names = {
        s.code: s.name
        for s in session.scalars(select(ServiceCode).where(ServiceCode.code.in_(referral.needs)))
    }
    return fhir.service_request(details.referral, systems, names)


def read_patient(
    session: Session, *, actor: Actor, client_id: int, systems: Systems, channel: Channel
) -> dict[str, Any]:
    """A client as Patient, for someone with a role on one of the client's referrals."""
    numbers = session.scalars(
        select(Referral.number)
        .where(Referral.client_id == client_id, Referral.number.is_not(None))
        .order_by(Referral.id.desc())
    ).all()
    for number in numbers:
        if number is None:
            continue
        try:
            details = view_referral(session, actor=actor, number=number, channel=channel)
        except NotFound:
            continue
        return fhir.patient(details.client, systems)
    raise NotFound(f"There is no Patient {client_id} that you can see.", field="id")
