"""Periodic messages: 30-day reminders, overdue escalations and the coordinators' daily digest.

Each job decides what is due with a handful of set-based queries, then writes outbox rows. What
it covered is recorded (reminders: each person's last reminder day, in reminder_watermarks;
escalations: each escalated pair, in escalations) or named by the outbox key (digests: the
target and the date), so reruns, overlapping runs and a second clock write nothing twice; a run
after downtime covers everything since the last one, once.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from bot.batch import batch_job
from bot.context import now, settings_of, today
from bot.domain.lifecycle import AGING_DAYS, age_days
from bot.domain.permissions import Actor
from bot.domain.vocab import ACTIVE_STATES, ReferralState, ResponseKind, Role
from bot.errors import Forbidden
from bot.notify import addresses, enqueue
from bot.services.grid import overdue_cutoff
from bot.services.programs import stated_capacities
from bot.texts import render
from storage.db import insert
from storage.models import (
    AuditEvent,
    County,
    Escalation,
    OutboxMessage,
    Program,
    Recipient,
    Referral,
    Region,
    ReminderWatermark,
    RoleGrant,
    ServiceCode,
    Staff,
    referral_counties,
)
from storage.types import UTCDateTime

REMINDER_EVERY_DAYS = 30
MAX_LISTED = 50
LISTED = ("new", "responses", "status_changes", "pending", "overdue", "aging")


# --- shared ------------------------------------------------------------------------------------


def _gatekeepers_by_program(session: Session) -> dict[int, list[Staff]]:
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


def _send_lists(
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
        payload = {"recipient_name": person.name, "items": items, "count": len(items), "date": day}
        tag = f":{tags[staff_id]}" if tags else ""
        for channel, address in addresses(session, person):
            written += enqueue(
                session,
                key=f"{kind}:{day}:s{staff_id}{tag}:{channel}",
                channel=channel,
                kind=kind,
                address=address,
                staff_id=staff_id,
                referral_id=None,
                payload=payload,
            )
    return written


def _staff(session: Session, ids: Iterable[int]) -> dict[int, Staff]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {s.id: s for s in session.scalars(select(Staff).where(Staff.id.in_(wanted)))}


# --- 30-day reminders --------------------------------------------------------------------------


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
        for program_id, people in _gatekeepers_by_program(session).items()
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
        session.connection().execute(_listing(joined_on, Recipient.assignee_id, assigned_on)).all()
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
    per_pair = _items(listed, _counties(session, {row[0] for row in listed}), moment)
    written = _send_lists(
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


def _listing(*leading: Any) -> Select[Any]:
    """The open pairs (referral, program), each with what a message lists about it: the
    `leading` columns, then the referral and program ids, the columns `_items` reads, and last
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


def _counties(session: Session, referral_ids: set[int]) -> dict[int, list[str]]:
    """The names of each referral's counties, in order."""
    counties: dict[int, list[str]] = defaultdict(list)
    for among in _among(session, sorted(referral_ids)):
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


def _pair_items(
    session: Session, referral_ids: set[int], moment: datetime
) -> tuple[dict[tuple[int, int], dict[str, Any]], dict[int, int]]:
    """`_items` for every open pair of these referrals, in the order the programs joined, and
    each referral's primary coordinator."""
    rows: list[Any] = []
    for among in _among(session, sorted(referral_ids)):
        rows += (
            session.connection()
            .execute(_listing().where(among(Recipient.referral_id)).order_by(Recipient.id))
            .all()
        )
    coordinators = {row[0]: row[-1] for row in rows}
    return _items(rows, _counties(session, referral_ids), moment), coordinators


def _items(
    rows: Iterable[Any], counties: dict[int, list[str]], moment: datetime
) -> dict[tuple[int, int], dict[str, Any]]:
    """What a message lists about each pair of `_listing`'s rows (without its leading columns),
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


def _among(session: Session, ids: list[int]) -> list[Any]:
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


# --- Overdue escalation ------------------------------------------------------------------------


@batch_job
def overdue_escalations(session: Session) -> int:
    """No assignment and no response five business days after a program joined: its gatekeepers
    get a reminder and the primary coordinator a note naming the other programs to consider.

    Each overdue pair is escalated once ever: the job claims the pairs not escalated yet in one
    INSERT ... SELECT (the due test and the claim in the database, so nothing is read to decide
    it), and runs take turns, so a second clock or an overlapping run finds them claimed.
    Details are loaded only for what this run claimed."""
    one_run_at_a_time(session, "overdue_escalations")
    moment = now(session)
    overdue = (
        select(Recipient.referral_id, Recipient.program_id, literal(moment, UTCDateTime()))
        .join(Referral, Referral.id == Recipient.referral_id)
        .where(
            Recipient.active.is_(True),
            Referral.state == ReferralState.OPEN,
            Recipient.assignee_id.is_(None),
            Recipient.response.is_(None),
            Recipient.joined_at < overdue_cutoff(session),
        )
        .order_by(Recipient.referral_id, Recipient.program_id)
    )
    claimed = {
        (referral_id, program_id): escalation_id
        for escalation_id, referral_id, program_id in session.connection().execute(
            insert(session, Escalation)
            .from_select(["referral_id", "program_id", "escalated_at"], overdue)
            .on_conflict_do_nothing()
            .returning(Escalation.id, Escalation.referral_id, Escalation.program_id)
        )
    }
    if not claimed:
        return 0
    per_pair, coordinators = _pair_items(session, {pair[0] for pair in claimed}, moment)
    gatekeepers = {
        program_id: [g.id for g in people]
        for program_id, people in _gatekeepers_by_program(session).items()
    }
    # The programs a coordinator could turn to instead, per referral: those that accepted,
    # tentatively or not, and those that have not answered yet; each note names the others.
    others: dict[int, list[tuple[int, dict[str, str]]]] = defaultdict(list)
    for (referral_id, program_id), item in per_pair.items():
        if item["response"] in (None, "accept", "tentative"):
            answer = item["response"] or "not answered yet"
            others[referral_id].append(
                (program_id, {"program": item["program"], "response": answer})
            )
    lists: dict[str, dict[int, list[dict[str, Any]]]] = {
        "g": defaultdict(list),
        "c": defaultdict(list),
    }
    claims: dict[str, dict[int, list[int]]] = {"g": defaultdict(list), "c": defaultdict(list)}
    # Sorted once in the order every list is in (referral number, then program).
    for pair in sorted(claimed, key=lambda p: (per_pair[p]["number"], per_pair[p]["program"])):
        referral_id, program_id = pair
        item, escalation = per_pair[pair], claimed[pair]
        coordinator = coordinators[referral_id]
        for gatekeeper in gatekeepers.get(program_id, ()):
            if gatekeeper != coordinator:  # who is both gets the coordinator's note only
                lists["g"][gatekeeper].append(item)
                claims["g"][gatekeeper].append(escalation)
        consider = [o for other, o in others[referral_id] if other != program_id]
        lists["c"][coordinator].append(item | {"consider": consider})
        claims["c"][coordinator].append(escalation)
    # Each message's key names the first pair it claimed: a later run the same day that claims
    # more writes a message of its own.
    tags = {
        who: {staff_id: f"m{min(ids)}" for staff_id, ids in claims[who].items()} for who in claims
    }
    written = _send_lists(session, kind="overdue_gatekeeper", lists=lists["g"], tags=tags["g"])
    written += _send_lists(session, kind="overdue_coordinator", lists=lists["c"], tags=tags["c"])
    return written


def one_run_at_a_time(session: Session, job: str) -> None:
    """Make any other run of `job` (a second clock, a slow run overlapping the next) wait until
    this transaction ends, so that it sees what this one wrote. On PostgreSQL a transaction-level
    advisory lock; SQLite transactions already take the database's write lock when they begin."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(job.encode())}
        )


# --- The coordinators' digest ------------------------------------------------------------------

# A referral's scope as one value that SQL can group by: "*" when statewide, else its county ids
# ("3,17"; in any order). A target's audience depends on nothing else, and a network has a few
# hundred distinct scopes however many referrals it has, so counts are grouped by scope in SQL
# and dealt out to the targets in Python.
STATEWIDE = "*"


def _scoped(*where: ColumnElement[bool]) -> Any:
    """Referrals matching `where`, with their scope: a subquery to select or join from."""
    counties = (
        select(
            referral_counties.c.referral_id,
            func.aggregate_strings(cast(referral_counties.c.county_id, String), ",").label("ids"),
        )
        .group_by(referral_counties.c.referral_id)
        .subquery("scope_counties")
    )
    scope = case((Referral.statewide.is_(True), STATEWIDE), else_=func.coalesce(counties.c.ids, ""))
    return (
        select(
            Referral.id,
            Referral.number,
            Referral.statewide,
            Referral.urgency,
            Referral.state,
            Referral.first_published_at,
            scope.label("scope"),
        )
        .outerjoin(counties, counties.c.referral_id == Referral.id)
        .where(*where)
        .subquery("scoped")
    )


def _county_ids(scope: str) -> frozenset[int]:
    return frozenset(int(c) for c in scope.split(",") if c) if scope != STATEWIDE else frozenset()


def _by_number(session: Session, number: Any) -> Any:
    """Referral numbers ordered as Python orders them (PostgreSQL's collation may not)."""
    return number.collate("C") if session.get_bind().dialect.name == "postgresql" else number


def _first_per_scope(
    session: Session, query: Select[Any], *, scope: Any, order: list[Any]
) -> list[Any]:
    """The query's first MAX_LISTED rows of each scope in `order`, all in `order`: a target's
    first MAX_LISTED rows are among those of its scopes, so its listing is exact and short."""
    rank = func.row_number().over(partition_by=scope, order_by=order).label("rank")
    keys = [o.label(f"order_{i}") for i, o in enumerate(order)]
    ranked = query.add_columns(scope.label("scope"), rank, *keys).subquery("ranked")
    return list(
        session.connection().execute(
            select(ranked)
            .where(ranked.c.rank <= MAX_LISTED)
            .order_by(*(ranked.c[k.name] for k in keys))
        )
    )


def build_digests(
    session: Session,
    *,
    targets: dict[str, set[int] | None],
    since: dict[str, datetime],
    until: datetime,
) -> dict[str, dict[str, Any]]:
    """Every target's digest at once: what happened in (since, until] for referrals in the
    target's counties (None: all), and where things stand at `until`. Counts are grouped by
    scope in SQL and only the rows a digest lists are fetched: Python's work does not grow with
    the number of open referrals. Numbers, counties, needs and ages only: no client names."""
    earliest = min(since.values(), default=until)
    cutoff = overdue_cutoff(session)
    aging_before = until - timedelta(days=AGING_DAYS)
    names = dict(session.execute(select(ServiceCode.code, ServiceCode.name)).all())
    county_names = dict(session.execute(select(County.id, County.name)).all())
    program_names = dict(session.execute(select(Program.id, Program.name)).all())

    everywhere = [t for t, counties in targets.items() if counties is None]
    by_county: dict[int, list[str]] = defaultdict(list)
    for t, counties in targets.items():
        for county in counties or ():
            by_county[county].append(t)
    every_target = list(targets)
    audiences: dict[str, list[str]] = {}

    def audience(scope: str) -> list[str]:
        if scope not in audiences:
            if scope == STATEWIDE:
                audiences[scope] = every_target
            else:
                found = set(everywhere)
                for county in _county_ids(scope):
                    found.update(by_county.get(county, ()))
                audiences[scope] = [t for t in every_target if t in found]
        return audiences[scope]

    out: dict[str, dict[str, Any]] = {
        t: {
            "since": since[t].isoformat(),
            "until": until.isoformat(),
            **{section: [] for section in LISTED},
            **{f"{section}_count": 0 for section in ("pending", "overdue", "aging")},
            "outstanding": Counter(),
            "answered": set(),
        }
        for t in targets
    }

    def deal(section: str, scope: str, item: Any) -> None:
        for t in audience(scope):
            listed = out[t][section]
            if len(listed) < MAX_LISTED:
                listed.append(item)

    active = _scoped(Referral.state.in_(ACTIVE_STATES))
    pending = active.c.state == ReferralState.PENDING_PLACEMENT
    aging = active.c.first_published_at < aging_before
    # Where things stand: counted per scope, listed oldest first (pending: by number).
    for scope, pending_n, aging_n in session.connection().execute(
        select(
            active.c.scope,
            func.count(case((pending, 1))),
            func.count(case((aging, 1))),
        ).group_by(active.c.scope)
    ):
        for t in audience(scope):
            out[t]["pending_count"] += pending_n
            out[t]["aging_count"] += aging_n
    number = _by_number(session, active.c.number)
    for row in _first_per_scope(
        session, select(active.c.number).where(pending), scope=active.c.scope, order=[number]
    ):
        deal("pending", row.scope, row.number or "")
    for row in _first_per_scope(
        session,
        select(active.c.number, active.c.first_published_at).where(aging),
        scope=active.c.scope,
        order=[active.c.first_published_at, number],
    ):
        deal(
            "aging",
            row.scope,
            {"number": row.number or "", "age_days": age_days(row.first_published_at, until)},
        )

    outstanding = or_(Recipient.response.is_(None), Recipient.response == ResponseKind.TENTATIVE)
    overdue = and_(
        active.c.state == ReferralState.OPEN,
        Recipient.assignee_id.is_(None),
        Recipient.response.is_(None),
        Recipient.joined_at < cutoff,
    )
    pairs = (
        select()
        .select_from(Recipient)
        .join(active, active.c.id == Recipient.referral_id)
        .where(Recipient.active.is_(True))
    )
    for program_id, scope, outstanding_n, overdue_n in session.connection().execute(
        pairs.add_columns(
            Recipient.program_id,
            active.c.scope,
            func.count(case((outstanding, 1))),
            func.count(case((overdue, 1))),
        ).group_by(Recipient.program_id, active.c.scope)
    ):
        for t in audience(scope):
            if outstanding_n:
                out[t]["outstanding"][program_names[program_id]] += outstanding_n
            out[t]["overdue_count"] += overdue_n
    for row in _first_per_scope(
        session,
        pairs.add_columns(active.c.number, Recipient.program_id, Recipient.joined_at).where(
            overdue
        ),
        scope=active.c.scope,
        order=[Recipient.joined_at, Recipient.id],
    ):
        deal(
            "overdue",
            row.scope,
            {
                "number": row.number or "",
                "program": program_names[row.program_id],
                "since": row.joined_at.date().isoformat(),
            },
        )

    # New in the period: a day's worth of referrals, listed in full detail.
    new = _scoped(Referral.first_published_at > earliest, Referral.state != ReferralState.DELETED)
    programs_per_referral = dict(
        session.connection()
        .execute(
            select(Recipient.referral_id, func.count())
            .join(new, new.c.id == Recipient.referral_id)
            .where(Recipient.active.is_(True))
            .group_by(Recipient.referral_id)
        )
        .all()
    )
    fresh = (
        session.connection()
        .execute(select(new, Referral.needs).join(Referral, Referral.id == new.c.id))
        .all()
    )
    for row in sorted(fresh, key=lambda r: r.number or ""):
        item = {
            "number": row.number or "",
            "where": "Statewide"
            if row.statewide
            else ", ".join(sorted(county_names[c] for c in _county_ids(row.scope))),
            "needs": ", ".join(f"{c} ({names.get(c, c)})" for c in row.needs),
            "urgency": str(row.urgency),
            "programs": programs_per_referral.get(row.id, 0),
        }
        for t in audience(row.scope):
            if since[t] < row.first_published_at <= until:
                out[t]["new"].append(item)

    # Responses and status changes in the period, of any referral (closed ones too).
    events = (
        select(
            AuditEvent.at,
            AuditEvent.action,
            AuditEvent.detail,
            AuditEvent.referral_id,
            Program.name,
        )
        .join(Program, Program.id == AuditEvent.program_id)
        .where(
            AuditEvent.at > earliest,
            AuditEvent.at <= until,
            AuditEvent.action.in_(["response_given", "response_edited", "service_status_changed"]),
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    concerned = _scoped(Referral.id.in_(events.with_only_columns(AuditEvent.referral_id)))
    refs = {
        rid: (number or "", scope)
        for rid, number, scope in session.connection().execute(
            select(concerned.c.id, concerned.c.number, concerned.c.scope)
        )
    }
    for at, action, detail, rid, program in session.execute(events):
        number, scope = refs[rid]
        for t in audience(scope):
            if not since[t] < at <= until:
                continue
            if action == "service_status_changed":
                out[t]["status_changes"].append(
                    {"number": number, "program": program, "status": detail.get("status")}
                )
                continue
            out[t]["responses"].append(
                {
                    "number": number,
                    "program": program,
                    "response": detail.get("response"),
                    "reason": detail.get("reason"),
                    "edited": action == "response_edited",
                }
            )
            if action == "response_given":
                out[t]["answered"].add((rid, program))
    capacities = stated_capacities(session, targets)
    for target, digest in out.items():
        digest["capacity"] = capacities.get(target, [])
        counts: Counter[str] = digest.pop("outstanding")
        digest["outstanding"] = [
            {"program": name, "count": n}
            for name, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ]
        digest["outstanding_total"] = sum(counts.values())
        digest["answered_count"] = len(digest.pop("answered"))
        for section in ("new", "responses", "status_changes"):
            # A digest names at most MAX_LISTED referrals a section; the count stays exact.
            digest[f"{section}_count"] = len(digest[section])
            digest[section] = digest[section][:MAX_LISTED]
    return out


def build_digest(
    session: Session, *, county_ids: set[int] | None, since: datetime, until: datetime
) -> dict[str, Any]:
    """One target's digest (see build_digests)."""
    return build_digests(session, targets={"one": county_ids}, since={"one": since}, until=until)[
        "one"
    ]


def _last_until(session: Session, target: str) -> datetime | None:
    row = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.kind == "coordinator_digest", OutboxMessage.key.like(f"digest:{target}:%")
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return datetime.fromisoformat(row.payload["until"])


@batch_job
def daily_digests(session: Session) -> int:
    """Today's digest for each region's channel and each coordinator who wants it by email,
    covering everything since that target's previous digest (one catch-up after downtime)."""
    moment = now(session)
    day = today(session).isoformat()
    settings = settings_of(session)
    region_channel = "slack" if "slack" in settings.notify_channels else "console"
    targets: dict[str, set[int] | None] = {}
    deliveries: dict[str, list[tuple[str, str, int | None, dict[str, str]]]] = {}
    regions = session.scalars(
        select(Region).where(Region.digest_channel.is_not(None)).order_by(Region.key)
    ).all()
    for region in regions:
        target = f"region-{region.key}"
        targets[target] = {c.id for c in region.counties}
        deliveries[target] = [
            (
                region_channel,
                region.digest_channel or "",
                None,
                {"title": f"{region.name} region", "recipient_name": region.name},
            )
        ]
    readers = session.scalars(
        select(Staff)
        .where(Staff.active.is_(True), Staff.wants_digest_email.is_(True))
        .where(
            exists().where(
                RoleGrant.staff_id == Staff.id,
                RoleGrant.role == Role.COORDINATOR,
                RoleGrant.revoked_at.is_(None),
            )
        )
        .order_by(Staff.id)
    ).all()
    for person in readers:
        target = f"staff-{person.id}"
        channels = [(ch, a) for ch, a in addresses(session, person) if ch != "slack"]
        if not channels:
            continue  # by email only: the Slack digest goes to the region's channel
        targets[target] = _coordinator_counties(session, person.id)
        deliveries[target] = [
            (ch, address, person.id, {"title": "Your counties", "recipient_name": person.name})
            for ch, address in channels
        ]
    if not targets:
        return 0
    since = {t: _last_until(session, t) or moment - timedelta(days=1) for t in targets}
    built = build_digests(session, targets=targets, since=since, until=moment)
    written = 0
    for target, digest in built.items():
        for channel, address, staff_id, extra in deliveries[target]:
            written += enqueue(
                session,
                key=f"digest:{target}:{day}:{channel}",
                channel=channel,
                kind="coordinator_digest",
                address=address,
                staff_id=staff_id,
                referral_id=None,
                payload={**digest, **extra},
            )
    return written


def _coordinator_counties(session: Session, staff_id: int) -> set[int] | None:
    grants = (
        session.execute(
            select(RoleGrant.county_id).where(
                RoleGrant.staff_id == staff_id,
                RoleGrant.role == Role.COORDINATOR,
                RoleGrant.revoked_at.is_(None),
            )
        )
        .scalars()
        .all()
    )
    if any(g is None for g in grants):
        return None
    return {g for g in grants if g is not None}


def digest_text_for(session: Session, *, actor: Actor, hours: int = 24) -> str:
    """The digest on demand (Slack's `/referral digest`): the caller's counties, last 24 hours."""
    if not (actor.has(Role.COORDINATOR) or actor.is_admin):
        raise Forbidden("The digest is for coordinators.")
    moment = now(session)
    counties = None if actor.is_admin else _coordinator_counties(session, actor.staff_id)
    digest = build_digest(
        session, county_ids=counties, since=moment - timedelta(hours=hours), until=moment
    )
    return render("digest/coordinator.txt", **digest, title="Your counties")


def digest_text_for_channel(session: Session, *, channel: str, hours: int = 24) -> str:
    """The digest of the region whose digest channel this is (the CLI's `digest --channel`)."""
    region = session.scalar(select(Region).where(Region.digest_channel == channel))
    if region is None:
        from bot.errors import NotFound

        raise NotFound(
            f"No region sends its digest to {channel}.",
            field="channel",
            hint="Set digest_channel on a region in the directory file.",
        )
    moment = now(session)
    digest = build_digest(
        session,
        county_ids={c.id for c in region.counties},
        since=moment - timedelta(hours=hours),
        until=moment,
    )
    return render("digest/coordinator.txt", **digest, title=f"{region.name} region")


__all__ = [
    "build_digest",
    "daily_digests",
    "digest_text_for",
    "digest_text_for_channel",
    "overdue_escalations",
    "thirty_day_reminders",
]
