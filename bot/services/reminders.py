"""30-day reminders: each contact gets one message listing all their referrals that are due."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, cast, func, select, type_coerce
from sqlalchemy.orm import Session

from bot.batch import batch_job
from bot.context import now, settings_of, today
from bot.services.periodic import (
    counties_of,
    gatekeepers_by_program,
    items_of,
    listing,
    one_run_at_a_time,
    send_lists,
)
from storage.db import insert
from storage.models import Recipient, ReminderWatermark

REMINDER_EVERY_DAYS = 30


@batch_job
def thirty_day_reminders(session: Session) -> int:
    """Every 30 days after a contact was first told of an open referral, that contact gets one
    message listing all their referrals that are due. Contacts are the gatekeepers of each
    recipient program (first told when the program joined) and the assigned provider (when
    assigned). Returns the number of outbox rows written.

    A pair is due for a contact when one of its 30-day anniversaries fell after the last day
    that contact was reminded (their watermark; never reminded: any anniversary), so each
    anniversary is covered by exactly one run however long the clock was down. Runs of this job
    take turns (`one_run_at_a_time`), so a second clock or an overlapping run finds the
    watermarks already moved. What is due and what a message lists come from one pass over the
    open pairs; each pair's item is built once, however many contacts list it."""
    one_run_at_a_time(session, "thirty_day_reminders")
    day = today(session)
    moment = now(session)
    gatekeepers = {
        program_id: [g.id for g in people]
        for program_id, people in gatekeepers_by_program(session).items()
    }
    reminded: dict[int, date] = dict(
        session.connection()
        .execute(select(ReminderWatermark.staff_id, ReminderWatermark.through))
        .all()
    )
    joined_on, local = _local_day(session, Recipient.joined_at)
    assigned_on, _ = _local_day(session, Recipient.assigned_at)
    # One pass over the open pairs with what a message would list about each: on a first run
    # over a long backlog most of them are due, and a second query for their details cost more
    # than fetching the details of the few due on an ordinary day.
    rows = (
        session.connection().execute(listing(joined_on, Recipient.assignee_id, assigned_on)).all()
    )
    due: dict[int, list[tuple[int, int]]] = defaultdict(list)
    listed: list[Any] = []
    for row in rows:
        joined_at, assignee_id, assigned_at, referral_id, program_id = row[:5]
        pair = (referral_id, program_id)
        people = gatekeepers.get(program_id, ())
        wanted = False
        if people:
            joined = (day - local(joined_at)).days
            if joined >= REMINDER_EVERY_DAYS:
                for gatekeeper in people:
                    if _anniversary_since(joined, reminded.get(gatekeeper), day):
                        due[gatekeeper].append(pair)
                        wanted = True
        if assignee_id is not None and assigned_at is not None and assignee_id not in people:
            assigned = (day - local(assigned_at)).days
            if assigned >= REMINDER_EVERY_DAYS and _anniversary_since(
                assigned, reminded.get(assignee_id), day
            ):
                due[assignee_id].append(pair)
                wanted = True
        if wanted:
            listed.append(row[3:])
    if not due:
        return 0
    per_pair = items_of(listed, counties_of(session, {row[0] for row in listed}), moment)
    written = send_lists(
        session,
        kind="thirty_day_reminder",
        lists={
            staff_id: sorted(
                (per_pair[pair] for pair in pairs),
                key=lambda item: (item["number"], item["program"]),
            )
            for staff_id, pairs in due.items()
        },
    )
    _move_watermarks(session, sorted(due), day, moment)
    return written


def _local_day(session: Session, column: Any) -> tuple[Any, Callable[[Any], date]]:
    """A UTC timestamp column as the network's local date, for many rows: PostgreSQL converts it
    itself; SQLite, which knows no time zones, hands back the naive UTC datetime for the function
    returned to convert (without the UTC column type's per-row processing)."""
    zone = settings_of(session).zone
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(zone.key, column), Date), _same
    return type_coerce(column, DateTime()), lambda t: t.replace(tzinfo=UTC).astimezone(zone).date()


def _same(value: date) -> date:
    return value


def _anniversary_since(days_known: int, reminded: date | None, day: date) -> bool:
    """Whether a 30-day anniversary of something known for `days_known` days (30 or more) fell
    after `reminded`, the day of the contact's last reminder."""
    if reminded is None:
        return True
    days_then = days_known - (day - reminded).days
    return days_then < 0 or days_then // REMINDER_EVERY_DAYS < days_known // REMINDER_EVERY_DAYS


def _move_watermarks(session: Session, staff_ids: list[int], day: date, moment: datetime) -> None:
    statement = insert(session, ReminderWatermark).values(
        [{"staff_id": s, "through": day, "updated_at": moment} for s in staff_ids]
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[ReminderWatermark.staff_id],
            set_={"through": statement.excluded.through, "updated_at": moment},
        )
    )
