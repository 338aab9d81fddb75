"""Who is told what: outbox rows written in the caller's transaction, never sent from here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.bulk_insert import insert_rows
from bot.context import now, settings_of
from bot.domain.lifecycle import age_days, is_aging
from bot.domain.vocab import Role
from bot.services.lookup import service_names
from storage.db import insert
from storage.models import AuditEvent, OutboxMessage, Referral, RoleGrant, Staff


def referral_brief(session: Session, referral: Referral) -> dict[str, Any]:
    """The minimum necessary about a referral: number, counties, needs, urgency, age.

    No client name or detail ever goes in here: this is what channel messages and email
    bodies may carry (DOMAIN.md, Privacy).
    """
    names = service_names(session, referral.needs)
    age = age_days(referral.first_published_at, now(session), referral.closed_at)
    return {
        "number": referral.number,
        "state": str(referral.state),
        "statewide": referral.statewide,
        "counties": sorted(c.name for c in referral.counties),
        "where": "Statewide"
        if referral.statewide
        else ", ".join(sorted(c.name for c in referral.counties)),
        "needs": [{"code": code, "name": names[code]} for code in referral.needs],
        "urgency": str(referral.urgency),
        "age_days": age,
        "aging": is_aging(age, referral.state),
    }


def gatekeepers_of(session: Session, program_ids: Iterable[int]) -> list[Staff]:
    ids = set(program_ids)
    if not ids:
        return []
    return holding(session, Role.GATEKEEPER, RoleGrant.program_id.in_(ids))


class Reachable(Protocol):
    """What telling a person needs of them: a `Staff`, or a row of just these columns."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def email(self) -> str: ...
    @property
    def notify_email(self) -> bool: ...
    @property
    def email_bouncing(self) -> bool: ...
    @property
    def slack_user_id(self) -> str | None: ...


# A statewide referral tells 3,000 gatekeepers: rows of these columns, not `Staff` objects
# (a third of the announcement's CPU, docs/benchmarks.md).
REACHABLE_COLUMNS = (
    Staff.id,
    Staff.name,
    Staff.active,
    Staff.email,
    Staff.notify_email,
    Staff.email_bouncing,
    Staff.slack_user_id,
)


def gatekeepers_by_program(
    session: Session, program_ids: Iterable[int]
) -> dict[int, list[Reachable]]:
    """Each program's active gatekeepers (unrevoked), in id order: one query for them all."""
    ids = set(program_ids)
    found: dict[int, list[Reachable]] = {pid: [] for pid in ids}
    if not ids:
        return found
    rows = session.execute(
        select(RoleGrant.program_id, *REACHABLE_COLUMNS)
        .join(RoleGrant, RoleGrant.staff_id == Staff.id)
        .where(
            RoleGrant.role == Role.GATEKEEPER,
            RoleGrant.revoked_at.is_(None),
            RoleGrant.program_id.in_(ids),
            Staff.active.is_(True),
        )
        .order_by(RoleGrant.program_id, Staff.id)
    ).all()
    for row in rows:
        people = found.setdefault(row.program_id or 0, [])
        if not people or people[-1].id != row.id:
            people.append(cast(Reachable, row))
    return found


def network_admins(session: Session) -> list[Staff]:
    """The network's active admins: told what no one else is there to handle."""
    return holding(session, Role.ADMIN)


def holding(
    session: Session, role: Role | Iterable[Role], *where: ColumnElement[bool]
) -> list[Staff]:
    """Active staff holding `role` (unrevoked) where the grant matches `where` (its program,
    agency or county), once each, in id order: the one "who holds role R in scope S" query."""
    roles = [role] if isinstance(role, Role) else list(role)
    return list(
        session.scalars(
            select(Staff)
            .join(RoleGrant, RoleGrant.staff_id == Staff.id)
            .where(
                RoleGrant.role.in_(roles),
                RoleGrant.revoked_at.is_(None),
                Staff.active.is_(True),
                *where,
            )
            .distinct()
            .order_by(Staff.id)
        )
    )


def coordinators_for(session: Session, referral: Referral) -> list[Staff]:
    """Coordinators of the referral's counties; every coordinator when it is statewide."""
    if referral.statewide:
        return holding(session, Role.COORDINATOR)
    county_ids = [c.id for c in referral.counties]
    return holding(
        session,
        Role.COORDINATOR,
        RoleGrant.county_id.in_(county_ids) | RoleGrant.county_id.is_(None),
    )


def addresses(session: Session, staff: Reachable) -> list[tuple[str, str]]:
    """(channel, address) pairs this person is reached on, from the deployment's channels."""
    out: list[tuple[str, str]] = []
    for channel in settings_of(session).notify_channels:
        if channel in ("email", "console"):
            if staff.notify_email and not staff.email_bouncing:
                out.append((channel, staff.email))
        elif channel == "slack":
            out.append((channel, staff.slack_user_id or staff.email))
    return out


def notify(
    session: Session,
    *,
    event: AuditEvent,
    kind: str,
    people: Iterable[Staff],
    payload: dict[str, Any],
    referral_id: int | None = None,
    skip_staff_id: int | None = None,
    scope: str = "",
) -> int:
    """One outbox row per person and channel (and `scope`, e.g. the program, when one event
    concerns a person twice); nobody is told of their own action."""
    rows = outbox_rows(
        session,
        event=event,
        kind=kind,
        people=people,
        payload=payload,
        referral_id=referral_id,
        skip_staff_id=skip_staff_id,
        scope=scope,
    )
    enqueue_many(session, rows)
    return len(rows)


def outbox_rows(
    session: Session,
    *,
    event: AuditEvent,
    kind: str,
    people: Iterable[Reachable],
    payload: dict[str, Any],
    referral_id: int | None = None,
    skip_staff_id: int | None = None,
    scope: str = "",
) -> list[dict[str, Any]]:
    """The rows `notify` writes, for callers that gather several audiences into one INSERT."""
    at = now(session)
    rows: list[dict[str, Any]] = []
    seen: set[int] = set()
    for person in people:
        if person.id in seen or person.id == skip_staff_id or not person.active:
            continue
        seen.add(person.id)
        for channel, address in addresses(session, person):
            rows.append(
                {
                    "key": event_key(event, f"{kind}:e", f"{scope}:s{person.id}:{channel}"),
                    "channel": channel,
                    "kind": kind,
                    "address": address,
                    "staff_id": person.id,
                    "referral_id": referral_id,
                    "payload": {**payload, "recipient_name": person.name},
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": at,
                    "created_at": at,
                }
            )
    return rows


class EventKey:
    """An outbox key naming an audit event not flushed yet (`bot.audit.record` leaves the flush
    to whoever holds the rows): `finish_keys` writes it out once the event has its id."""

    __slots__ = ("event", "head", "tail")

    def __init__(self, event: AuditEvent, head: str, tail: str) -> None:
        self.event = event
        self.head = head
        self.tail = tail

    def text(self) -> str:
        if self.event.id is None:
            raise RuntimeError(f"outbox key {self.head}?{self.tail}: its event is not flushed")
        return f"{self.head}{self.event.id}{self.tail}"


def event_key(event: AuditEvent, head: str, tail: str) -> str | EventKey:
    """`head`, the event's id, `tail`; an `EventKey` until the event has its id."""
    if event.id is None:
        return EventKey(event, head, tail)
    return f"{head}{event.id}{tail}"


def finish_keys(rows: Iterable[dict[str, Any]]) -> None:
    """Write out the keys of held rows whose events were flushed since (`EventKey`)."""
    for row in rows:
        key = row["key"]
        if isinstance(key, EventKey):
            row["key"] = key.text()


# Where `enqueue_many` puts its rows instead of writing them, while a caller holds them to
# write them with its own in one statement (handlers/email/answers.py: a reply's notifications
# and its confirmation).
HELD_ROWS = "held_outbox_rows"


def enqueue_many(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Add these rows (from `outbox_rows`), skipping keys that exist: one INSERT ... ON CONFLICT
    DO NOTHING for all of them instead of one use per row (a statewide referral: 3,000)."""
    if not rows:
        return
    held: list[dict[str, Any]] | None = session.info.get(HELD_ROWS)
    if held is not None:
        held.extend(rows)
        return
    insert_rows(session, OutboxMessage, rows, unless_key="key")


def tell(
    session: Session,
    person: Staff,
    *,
    key: str,
    kind: str,
    payload: dict[str, Any],
    referral_id: int | None = None,
    inactive_too: bool = False,
    unless: tuple[str, str] | None = None,
) -> int:
    """One outbox row for each channel and address the person is reached on (the key gets the
    channel added), addressed to them by name; nothing for an inactive person unless
    `inactive_too` (telling them their access was removed). Returns the number of rows added
    (a row already there under the key is not written again). `unless` is a (channel, address)
    left out. (`notify` writes many people's rows in one INSERT: `outbox_rows`.)"""
    if not person.active and not inactive_too:
        return 0
    written = 0
    for channel, address in addresses(session, person):
        if (channel, address) == unless:
            continue
        written += enqueue(
            session,
            key=f"{key}:{channel}",
            channel=channel,
            kind=kind,
            address=address,
            staff_id=person.id,
            referral_id=referral_id,
            payload={**payload, "recipient_name": person.name},
        )
    return written


def enqueue(
    session: Session,
    *,
    key: str,
    channel: str,
    kind: str,
    address: str,
    staff_id: int | None,
    referral_id: int | None,
    payload: dict[str, Any],
    due: datetime | None = None,
) -> bool:
    """Add one row unless a row with the same key exists; True when it was added.

    The unique key is the whole guarantee against double sends: a retried use case, a restarted
    scheduler or two clocks at once all collapse onto one row (INSERT ... ON CONFLICT DO NOTHING).
    """
    values = outbox_row(
        session,
        key=key,
        channel=channel,
        kind=kind,
        address=address,
        staff_id=staff_id,
        referral_id=referral_id,
        payload=payload,
        due=due,
    )
    statement = (
        insert(session, OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(OutboxMessage.id)
    )
    return session.execute(statement).scalar() is not None


def outbox_row(
    session: Session,
    *,
    key: str,
    channel: str,
    kind: str,
    address: str,
    staff_id: int | None,
    referral_id: int | None,
    payload: dict[str, Any],
    due: datetime | None = None,
) -> dict[str, Any]:
    """The values of one pending outbox row, as `enqueue` writes it."""
    at = now(session)
    return {
        "key": key,
        "channel": channel,
        "kind": kind,
        "address": address,
        "staff_id": staff_id,
        "referral_id": referral_id,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": due or at,
        "created_at": at,
    }


def pending_for(session: Session, kinds: Sequence[str] | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.status == "pending")
    if kinds:
        query = query.where(OutboxMessage.kind.in_(kinds))
    return list(session.scalars(query.order_by(OutboxMessage.id)))
