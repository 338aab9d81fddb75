"""The referral grid: one row per referral and recipient program the actor may see, filtered,
sorted and paged with a stable cursor. Slack's `/referral list`, the API's search and the web
grid all read it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import and_, exists, func, literal, or_, select, true
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from bot.context import now, settings_of, today
from bot.domain.business_days import OVERDUE_BUSINESS_DAYS, calendar
from bot.domain.lifecycle import age_days, is_aging
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel, ReferralState, Role
from bot.errors import InvalidInput
from bot.services.grid_keys import after_key, decode_cursor, encode_cursor, order_by_key
from bot.services.read_audit import record_reads
from storage.models import (
    GRID_OPEN,
    Client,
    County,
    Program,
    Recipient,
    Referral,
    Staff,
    referral_counties,
    referral_needs,
)

Scope = Literal["open", "closed", "all", "mine", "unassigned", "overdue"]
# Each order is the grid row's own copy of its key (bot.services.grid_rows) and an index on
# (key, id): a page is the first rows of an index walk. Only a response can be missing.
SORTS = {
    "age": Recipient.grid_published_at,
    "number": Recipient.grid_number,
    "urgency": Recipient.grid_urgency,
    "status": Recipient.grid_state,
    "program": Recipient.grid_program,
    "last_name": Recipient.grid_last_name,
    "response": Recipient.response,
}
NULLABLE_SORTS = frozenset({"response"})
MAX_LIMIT = 200
# Counting every matching row of a million-row grid takes seconds; a grid only needs to know
# "how many, or at least this many", so the count stops here (the page says "1,000+").
TOTAL_CAP = 1000


@dataclass(frozen=True)
class GridQuery:
    scope: Scope = "open"
    county: str | None = None
    need: str | None = None
    program: str | None = None
    last_name: str | None = None
    first_name: str | None = None
    external_id: str | None = None
    number: str | None = None
    status: ReferralState | None = None
    sort: str = "age"
    descending: bool = False
    limit: int = 20
    cursor: str | None = None


@dataclass(frozen=True)
class GridRow:
    recipient_id: int
    number: str
    state: str
    where: str
    needs: list[str]
    urgency: str
    age_days: int | None
    aging: bool
    overdue: bool
    program: str
    program_key: str
    assignee: str | None
    response: str | None
    response_reason: str | None
    client_name: str
    primary_coordinator_id: int


@dataclass(frozen=True)
class GridPage:
    rows: list[GridRow]
    next_cursor: str | None
    total: int = field(default=0)
    # False when more rows match than TOTAL_CAP: `total` is then a lower bound.
    total_exact: bool = field(default=True)


def overdue_cutoff(session: Session) -> datetime:
    """Programs that joined before this instant, and have neither assigned nor answered, are
    overdue today: the last joining day that is five whole business days ago, as UTC."""
    settings = settings_of(session)
    cal = calendar(settings.holiday_country, settings.holiday_subdivision)
    day = today(session)
    candidate = day
    # The latest day whose overdue date has arrived; at most a few weeks back over holidays.
    for _ in range(60):
        if cal.overdue_on(candidate) <= day:
            break
        candidate -= timedelta(days=1)
    local_midnight = datetime.combine(candidate + timedelta(days=1), time(), settings.zone)
    return local_midnight.astimezone(now(session).tzinfo)


def visibility(actor: Actor) -> ColumnElement[bool]:
    """The rows an actor may see, as SQL: mirrors bot.domain.permissions.may_see_referral."""
    if actor.is_admin:
        return true()
    coordinator = [g for g in actor.grants if g.role == Role.COORDINATOR]
    gatekeeping = actor.programs(Role.GATEKEEPER)
    providing = actor.programs(Role.PROVIDER)
    program_rows: list[ColumnElement[bool]] = []
    if gatekeeping:
        program_rows.append(Recipient.program_id.in_(gatekeeping))
    if providing:
        program_rows.append(
            and_(Recipient.program_id.in_(providing), Recipient.assignee_id == actor.staff_id)
        )
    own = Recipient.grid_coordinator_id == actor.staff_id
    if not coordinator:
        # A few programs' rows out of many, all tested on the grid row: the database reads
        # each part from its own index (program, assignee, coordinator) and ORs them.
        return or_(own, *program_rows)
    clauses: list[ColumnElement[bool]] = [own]
    if any(g.county_id is None for g in coordinator):
        clauses.append(true())
    else:
        counties = [g.county_id for g in coordinator]
        clauses.append(Recipient.grid_statewide.is_(True))
        clauses.append(_in_counties(counties))
    return or_(*clauses, *program_rows)


def _in_counties(county_ids: Sequence[int | None]) -> ColumnElement[bool]:
    """The referral names one of these counties: a lookup per referral (OFFSET 0 keeps
    PostgreSQL from hashing every referral of the counties first, which costs tens of ms while
    a page needs a few hundred lookups)."""
    return exists(
        select(referral_counties.c.referral_id)
        .where(
            referral_counties.c.referral_id == Recipient.referral_id,
            referral_counties.c.county_id.in_(county_ids),
        )
        .offset(0)
    )


def _has_need(code: str, *, per_row: bool) -> ColumnElement[bool]:
    """The row's referral has this need. A page walks the grid in order and tests each row
    (OFFSET 0 keeps PostgreSQL from first hashing every referral with the need: a fifth of all
    of them for a common one); the capped count may instead start from the need's index."""
    lookup = select(referral_needs.c.referral_id).where(
        referral_needs.c.referral_id == Recipient.referral_id, referral_needs.c.code == code
    )
    return exists(lookup.offset(0) if per_row else lookup)


def _prefix(column: Any, text: str) -> ColumnElement[bool]:
    """A case-insensitive prefix match. The pattern is written into the statement: a prepared
    statement's generic plan cannot know it is a prefix, and would not use the index."""
    return func.lower(column).like(literal(text.strip().lower() + "%", literal_execute=True))


def _narrow(actor: Actor, query: GridQuery) -> bool:
    """Whether the rows are few wherever they fall in the sort order (one program, one
    referral, one client, or a gatekeeper's or provider's own): then it is faster to find
    them all and sort them than to walk the whole grid in order looking for them. Names are
    left to the planner: a common surname or a short prefix matches tens of thousands."""
    if query.program or query.external_id or query.number:
        return True
    return not (actor.is_admin or actor.has(Role.COORDINATOR))


def search(
    session: Session, *, actor: Actor, query: GridQuery, channel: Channel | None = None
) -> GridPage:
    """One page of the grid. With `channel`, the page is shown to a person with the clients'
    names: each (referral, client) on it is recorded as a read through that channel."""
    if query.sort not in SORTS:
        raise InvalidInput(
            f'Cannot sort by "{query.sort}".',
            field="sort",
            hint="Sort by one of: " + ", ".join(SORTS) + ".",
        )
    limit = max(1, min(query.limit, MAX_LIMIT))
    assignee = aliased(Staff)
    moment = now(session)
    cutoff = overdue_cutoff(session)
    overdue_expr = and_(
        Recipient.grid_state == ReferralState.OPEN,
        Recipient.assignee_id.is_(None),
        Recipient.response.is_(None),
        Recipient.joined_at < cutoff,
    )
    where: list[ColumnElement[bool]] = [
        Recipient.active.is_(True),
        Recipient.grid_state != ReferralState.DELETED,
        visibility(actor),
    ]
    scope = query.scope
    if scope in ("open", "unassigned", "overdue", "mine"):
        where.append(GRID_OPEN)
    elif scope == "closed":
        where.append(Recipient.grid_state == ReferralState.CLOSED)
    if scope == "mine":
        where.append(
            or_(
                Recipient.assignee_id == actor.staff_id,
                Recipient.grid_coordinator_id == actor.staff_id,
            )
        )
    if scope == "unassigned":
        where.append(Recipient.assignee_id.is_(None))
    if scope == "overdue":
        where.append(overdue_expr)
    if query.status is not None:
        where.append(Recipient.grid_state == query.status)
    if query.county:
        name = query.county.strip().lower()
        # The county's id first (a tiny query), so the grid's plan sees a constant.
        county_ids = session.scalars(
            select(County.id).where(
                or_(
                    func.lower(County.name) == name,
                    func.lower(County.name) == name + " county",
                    County.fips == name,
                )
            )
        ).all()
        # One county's referrals are a few thousand: read once from the county index into a
        # hash, they cost less than a lookup per row (unlike a coordinator's twenty counties).
        in_county = Recipient.referral_id.in_(
            select(referral_counties.c.referral_id).where(
                referral_counties.c.county_id.in_(county_ids)
            )
        )
        where.append(or_(Recipient.grid_statewide.is_(True), in_county))
    need = "".join(ch for ch in query.need.upper() if ch.isalnum()) if query.need else None
    if query.program:
        text = query.program.strip().lower()
        program_ids = session.scalars(
            select(Program.id).where(
                or_(func.lower(Program.key) == text, func.lower(Program.name) == text)
            )
        ).all()
        where.append(Recipient.program_id.in_(program_ids))
    if query.last_name:
        # With a first name as well, the clients' (last, first) index finds the few at once;
        # alone, the grid row's copy is tested without a join.
        surname = Client.last_name if query.first_name else Recipient.grid_last_name
        where.append(_prefix(surname, query.last_name))
    if query.first_name:
        where.append(_prefix(Client.first_name, query.first_name))
    if query.external_id:
        where.append(Client.external_id == query.external_id.strip())
    if query.number:
        where.append(Recipient.grid_number == query.number.strip().upper())

    sort_col = SORTS[query.sort]
    nullable = query.sort in NULLABLE_SORTS
    # The matching rows' ids and sort keys first, from the grid row's own columns; the page's
    # details after: a row that is not on the page is never joined to its referral, program,
    # client or assignee. The joins here are outer (every row has both) so that the database
    # drops them unless a client filter (first name, external id) needs them.
    keys = (
        select(Recipient.id, sort_col.label("sort_value"))
        .select_from(Recipient)
        .outerjoin(Referral, Referral.id == Recipient.referral_id)
        .outerjoin(Client, Client.id == Referral.client_id)
        .where(*where)
    )
    unpaged = keys
    if need is not None:
        keys = keys.where(_has_need(need, per_row=True))
        unpaged = unpaged.where(_has_need(need, per_row=False))
    narrow = _narrow(actor, query)
    if narrow:
        # OFFSET 0 fences the subquery: PostgreSQL then plans it on its own, from the filter's
        # index, instead of walking the sort order's index through rows that do not match.
        # All its rows are read to be sorted anyway, so they are counted in the same pass.
        grid = keys.add_columns(func.count().over().label("matching")).offset(0).subquery()
    else:
        grid = keys.subquery()
    page_query = select(grid)
    if query.cursor:
        value, last_id = decode_cursor(query.cursor)
        page_query = page_query.where(
            after_key(grid.c.sort_value, grid.c.id, value, last_id, query.descending, nullable)
        )
    page = (
        page_query.order_by(*order_by_key(grid.c.sort_value, grid.c.id, query.descending, nullable))
        .limit(limit + 1)
        .subquery()
    )
    rows = session.execute(
        select(
            page,
            Referral.id.label("referral_id"),
            Referral.number,
            Referral.state,
            Referral.statewide,
            Referral.needs,
            Referral.urgency,
            Referral.first_published_at,
            Referral.closed_at,
            Referral.primary_coordinator_id,
            Program.name.label("program"),
            Program.key.label("program_key"),
            assignee.name.label("assignee"),
            Recipient.response,
            Recipient.response_reason,
            Referral.client_id,
            Client.first_name,
            Client.last_name,
            overdue_expr.label("overdue"),
        )
        .join(Recipient, Recipient.id == page.c.id)
        .join(Referral, Referral.id == Recipient.referral_id)
        .join(Program, Program.id == Recipient.program_id)
        .join(Client, Client.id == Referral.client_id)
        .outerjoin(assignee, assignee.id == Recipient.assignee_id)
        .order_by(*order_by_key(page.c.sort_value, page.c.id, query.descending, nullable))
    ).all()
    if narrow and rows:
        total = rows[0].matching
    else:
        # Counted up to the cap only: the database stops at the cap's first rows in any order.
        capped = unpaged.with_only_columns(Recipient.id).limit(TOTAL_CAP + 1).subquery()
        total = session.scalar(select(func.count()).select_from(capped)) or 0
    more = len(rows) > limit
    rows = rows[:limit]
    counties = _counties(session, {r.referral_id for r in rows})
    out = [
        GridRow(
            recipient_id=r.id,
            number=r.number,
            state=str(r.state),
            where="Statewide" if r.statewide else ", ".join(counties.get(r.referral_id, [])),
            needs=list(r.needs),
            urgency=str(r.urgency),
            age_days=(age := age_days(r.first_published_at, moment, r.closed_at)),
            aging=is_aging(age, r.state),
            overdue=bool(r.overdue),
            program=r.program,
            program_key=r.program_key,
            assignee=r.assignee,
            response=str(r.response) if r.response else None,
            response_reason=r.response_reason,
            client_name=f"{r.first_name} {r.last_name}",
            primary_coordinator_id=r.primary_coordinator_id,
        )
        for r in rows
    ]
    if channel is not None:
        record_reads(
            session,
            actor=actor,
            channel=channel,
            shown=[(r.referral_id, r.client_id) for r in rows],
        )
    next_cursor = encode_cursor(rows[-1].sort_value, rows[-1].id) if more and rows else None
    return GridPage(out, next_cursor, min(total, TOTAL_CAP), total_exact=total <= TOTAL_CAP)


def _counties(session: Session, referral_ids: set[int]) -> dict[int, list[str]]:
    if not referral_ids:
        return {}
    out: dict[int, list[str]] = {}
    for rid, name in session.execute(
        select(referral_counties.c.referral_id, County.name)
        .join(County, County.id == referral_counties.c.county_id)
        .where(referral_counties.c.referral_id.in_(referral_ids))
        .order_by(County.name)
    ):
        out.setdefault(rid, []).append(name)
    return out


__all__ = ["OVERDUE_BUSINESS_DAYS", "GridPage", "GridQuery", "GridRow", "search"]
