"""What the periodic jobs share: who to tell, one message per person listing all their items,
the open pairs (referral, program) with what a message lists about each, and taking turns.

The jobs (reminders.py, escalations.py, digests.py) decide what is due with a handful of
set-based queries, then write outbox rows. What a job covered is recorded (reminders: each
person's last reminder day, in reminder_watermarks; escalations: each escalated pair, in
escalations) or named by the outbox key (digests: the target and the date), so reruns,
overlapping runs and a second clock write nothing twice; a run after downtime covers everything
since the last one, once.
"""

from __future__ import annotations

import json
import zlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    Select,
    String,
    Text,
    cast,
    func,
    literal,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from bot.context import today
from bot.domain.lifecycle import age_days
from bot.domain.vocab import ACTIVE_STATES, Role
from bot.notify import tell
from storage.models import County, Program, Recipient, Referral, RoleGrant, Staff, referral_counties


def gatekeepers_by_program(session: Session) -> dict[int, list[Staff]]:
    out: dict[int, list[Staff]] = defaultdict(list)
    rows = session.execute(
        select(RoleGrant.program_id, Staff)
        .join(Staff, Staff.id == RoleGrant.staff_id)
        .where(
            RoleGrant.role == Role.GATEKEEPER,
            RoleGrant.revoked_at.is_(None),
            Staff.active.is_(True),
        )
        .order_by(Staff.id)
    )
    for program_id, staff in rows:
        if program_id is not None:
            out[program_id].append(staff)
    return out


def send_lists(
    session: Session,
    *,
    kind: str,
    lists: dict[int, list[dict[str, Any]]],
    tags: dict[int, str] | None = None,
) -> int:
    """One message per person listing all their items, never one message per referral. The
    outbox key names the kind, the day and the person, with the person's tag where given (so
    that a second run the same day that claimed more writes a message of its own)."""
    written = 0
    day = today(session).isoformat()
    staff = _staff(session, lists)
    for staff_id in sorted(lists):
        person = staff.get(staff_id)
        if person is None or not person.active:
            continue
        items = lists[staff_id]
        payload = {"items": items, "count": len(items), "date": day}
        tag = f":{tags[staff_id]}" if tags else ""
        key = f"{kind}:{day}:s{staff_id}{tag}"
        written += tell(session, person, key=key, kind=kind, payload=payload)
    return written


def _staff(session: Session, ids: Iterable[int]) -> dict[int, Staff]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {s.id: s for s in session.scalars(select(Staff).where(Staff.id.in_(wanted)))}


def listing(*leading: Any) -> Select[Any]:
    """The open pairs (referral, program), each with what a message lists about it: the
    `leading` columns, then the referral and program ids, the columns `items_of` reads, and last
    the referral's primary coordinator.

    A first run over a long backlog lists most pairs of the network, so nothing is processed
    per row on the way: enums and the needs list come as plain text, the publication time raw."""
    assignee = aliased(Staff)
    return (
        select(
            *leading,
            Recipient.referral_id,
            Recipient.program_id,
            Program.name,
            assignee.name,
            type_coerce(Recipient.response, String),
            Recipient.response_reason,
            Referral.number,
            Referral.statewide,
            cast(Referral.needs, Text),
            type_coerce(Referral.urgency, String),
            type_coerce(Referral.first_published_at, DateTime()),
            Referral.primary_coordinator_id,
        )
        .join(Program, Program.id == Recipient.program_id)
        .outerjoin(assignee, assignee.id == Recipient.assignee_id)
        .join(Referral, Referral.id == Recipient.referral_id)
        .where(Recipient.active.is_(True), Referral.state.in_(ACTIVE_STATES))
    )


def counties_of(session: Session, referral_ids: set[int]) -> dict[int, list[str]]:
    """The names of each referral's counties, in order."""
    counties: dict[int, list[str]] = defaultdict(list)
    for among in in_batches(session, sorted(referral_ids)):
        for rid, name in (
            session.connection()
            .execute(
                select(referral_counties.c.referral_id, County.name)
                .join(County, County.id == referral_counties.c.county_id)
                .where(among(referral_counties.c.referral_id))
                .order_by(County.name)
            )
            .all()
        ):
            counties[rid].append(name)
    return counties


def pair_items(
    session: Session, referral_ids: set[int], moment: datetime
) -> tuple[dict[tuple[int, int], dict[str, Any]], dict[int, int]]:
    """`items_of` for every open pair of these referrals, in the order the programs joined, and
    each referral's primary coordinator."""
    rows: list[Any] = []
    for among in in_batches(session, sorted(referral_ids)):
        rows += (
            session.connection()
            .execute(listing().where(among(Recipient.referral_id)).order_by(Recipient.id))
            .all()
        )
    coordinators = {row[0]: row[-1] for row in rows}
    return items_of(rows, counties_of(session, referral_ids), moment), coordinators


def items_of(
    rows: Iterable[Any], counties: dict[int, list[str]], moment: datetime
) -> dict[tuple[int, int], dict[str, Any]]:
    """What a message lists about each pair of `listing`'s rows (without its leading columns),
    built once per pair: every contact's message shares it. What belongs to the referral (where,
    needs, age) is worked out once per referral."""
    needs_text: dict[str, str] = {}  # a network has a few dozen distinct lists of needs
    referrals: dict[int, dict[str, Any]] = {}
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for rid, program_id, program, assignee_name, response, reason, *about in rows:
        referral = referrals.get(rid)
        if referral is None:
            number, statewide, needs, urgency, published, _coordinator = about
            if needs not in needs_text:
                needs_text[needs] = ", ".join(json.loads(needs))
            if published is not None and published.tzinfo is None:  # SQLite: naive UTC
                published = published.replace(tzinfo=UTC)
            referral = referrals[rid] = {
                "number": number or "",
                "where": "Statewide" if statewide else ", ".join(counties.get(rid, [])),
                "needs": needs_text[needs],
                "urgency": urgency,
                "age_days": age_days(published, moment),
            }
        out[(rid, program_id)] = referral | {
            "program": program,
            "assignee": assignee_name,
            "response": response,
            "reason": reason,
        }
    return out


def in_batches(session: Session, ids: list[int]) -> list[Any]:
    """Conditions `column IN ids`, as few as the engine takes well: on PostgreSQL one array sent
    as text (a long IN list is parsed on the client and each value dumped one by one), on SQLite
    chunks of bound parameters."""
    if session.get_bind().dialect.name == "postgresql":
        array = cast(literal("{" + ",".join(map(str, ids)) + "}", String), ARRAY(Integer))
        return [lambda column: column.in_(select(func.unnest(array)).scalar_subquery())]
    return [
        (lambda chunk: lambda column: column.in_(chunk))(ids[start : start + 5000])
        for start in range(0, len(ids), 5000)
    ]


def one_run_at_a_time(session: Session, job: str) -> None:
    """Make any other run of `job` (a second clock, a slow run overlapping the next) wait until
    this transaction ends, so that it sees what this one wrote. On PostgreSQL a transaction-level
    advisory lock; SQLite transactions already take the database's write lock when they begin."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(job.encode())}
        )
