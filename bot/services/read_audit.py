"""Reads of client details: recorded per client whatever the channel, and listed for a
security officer (reads by their agency's staff) or an admin (every read)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, aliased

from bot.context import now
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, Role
from bot.errors import Forbidden, InvalidInput, NotFound
from bot.services.lookup import normalise_number
from storage.models import AuditEvent, Referral, Staff

# The audit actions that are reads of a client's details.
READS = ("client_data_viewed", "client_data_listed")
# Reads are shown newest first, this many at most on the page (the CSV has them all).
PAGE_ROWS = 500


def record_reads(
    session: Session,
    *,
    actor: Actor,
    channel: Channel | str,
    shown: Iterable[tuple[int, int]],
    action: str = "client_data_listed",
) -> int:
    """One audit event per (referral, client) whose details a list showed, in one INSERT."""
    moment = now(session)
    rows = [
        {
            "at": moment,
            "actor_id": actor.staff_id,
            "channel": str(channel),
            "action": action,
            "referral_id": referral_id,
            "client_id": client_id,
            "detail": {},
        }
        for referral_id, client_id in dict.fromkeys(shown)
    ]
    if rows:
        session.execute(insert(AuditEvent), rows)
    return len(rows)


@dataclass(frozen=True)
class Read:
    at: datetime
    who: str
    email: str
    agency: str | None
    channel: str
    action: str
    number: str | None


@dataclass(frozen=True)
class ClientReads:
    client_id: int
    reads: list[Read]
    # Officers see the reads of their agency's staff only.
    scope: str


def reads_of_client(
    session: Session, *, actor: Actor, client_id: int | None = None, number: str | None = None
) -> ClientReads:
    """Who read one client's details, when and through which channel (named by the client's
    id or one of their referrals' numbers)."""
    officer_agencies = {
        g.agency_id for g in actor.grants if g.role == Role.SECURITY_OFFICER and g.agency_id
    }
    if not actor.is_admin and not officer_agencies:
        raise Forbidden("Only security officers and network admins see who read client details.")
    if number:
        found = session.scalar(
            select(Referral.client_id).where(Referral.number == normalise_number(number))
        )
        if found is None:
            raise NotFound(f"There is no referral {number.strip()}.", field="referral")
        client_id = found
    if client_id is None:
        raise InvalidInput("Name a client id or a referral number.", field="client")
    reader = aliased(Staff)
    query = (
        select(AuditEvent, reader, Referral.number)
        .join(reader, reader.id == AuditEvent.actor_id)
        .outerjoin(Referral, Referral.id == AuditEvent.referral_id)
        .where(AuditEvent.client_id == client_id, AuditEvent.action.in_(READS))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    scope = "every read"
    if not actor.is_admin:
        query = query.where(reader.agency_id.in_(officer_agencies))
        scope = "reads by your agency's staff"
    reads = [
        Read(
            at=event.at,
            who=person.name,
            email=person.email,
            agency=person.agency.name if person.agency else None,
            channel=event.channel,
            action=event.action,
            number=referral_number,
        )
        for event, person, referral_number in session.execute(query)
    ]
    return ClientReads(client_id, reads, scope)


def reads_csv(found: ClientReads) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["at", "who", "email", "agency", "channel", "action", "referral"])
    for r in found.reads:
        writer.writerow(
            _inert(cell)
            for cell in (
                r.at.isoformat(),
                r.who,
                r.email,
                r.agency or "",
                r.channel,
                r.action,
                r.number or "",
            )
        )
    return out.getvalue()


def _inert(cell: str) -> str:
    """A spreadsheet must not run a name as a formula (=, +, -, @ first)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell
