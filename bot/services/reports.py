"""Network reports, counted in SQL: delays of open referrals, responses and their reasons, and
referrals to and from an agency. Counts only, never a client; the web pages chart them and
offer them as CSV."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.context import now, settings_of
from bot.domain.lifecycle import AGING_DAYS
from bot.domain.permissions import Actor
from bot.domain.vocab import ACTIVE_STATES, RESPONSE_WORDS, ReferralState, ResponseKind, Role
from bot.errors import Forbidden, InvalidInput
from storage.models import Agency, Program, Recipient, Referral, Staff

# Age of an open referral (days since first published), as (label, last day of the bucket).
AGE_BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("0-7 days", 7),
    ("8-30 days", 30),
    (f"31-{AGING_DAYS} days", AGING_DAYS),
    (f"over {AGING_DAYS} days", None),
)
# Where a referral stands at one program, from waiting to answered.
STAGES = (
    "unassigned",
    "assigned, no response",
    RESPONSE_WORDS[ResponseKind.TENTATIVE],
    RESPONSE_WORDS[ResponseKind.ACCEPT],
    RESPONSE_WORDS[ResponseKind.DECLINE],
)
MAX_PERIOD_DAYS = 3 * 366


@dataclass(frozen=True)
class DelaysReport:
    """Open referral-program pairs by stage and age bucket (counts[stage][bucket])."""

    buckets: tuple[str, ...]
    counts: dict[str, list[int]]

    @property
    def total(self) -> int:
        return sum(sum(row) for row in self.counts.values())


@dataclass(frozen=True)
class OutcomeCount:
    program: str
    response: str
    reason: str | None
    count: int


@dataclass(frozen=True)
class OutcomesReport:
    """Current responses given in the period, by program, response and reason."""

    start: date
    end: date
    rows: list[OutcomeCount]

    def by_reason(self) -> dict[str, int]:
        """'declined: no vacancy' -> count; accepts count under their own word."""
        out: dict[str, int] = {}
        for row in self.rows:
            label = f"{row.response}: {row.reason}" if row.reason else row.response
            out[label] = out.get(label, 0) + row.count
        return dict(sorted(out.items(), key=lambda item: (-item[1], item[0])))

    def by_program(self) -> dict[str, dict[str, int]]:
        """program -> response word -> count, for every response word."""
        out: dict[str, dict[str, int]] = {}
        for row in self.rows:
            counts = out.setdefault(row.program, dict.fromkeys(RESPONSE_WORDS.values(), 0))
            counts[row.response] += row.count
        return dict(sorted(out.items()))


@dataclass(frozen=True)
class FlowRow:
    direction: str  # "to" the agency's programs, or "from" its coordinators
    counterpart: str  # the agency's program (to), or the receiving agency (from)
    referrals: int
    accepted: int
    tentative: int
    declined: int
    no_response: int


@dataclass(frozen=True)
class AgencyFlowReport:
    """Referral-program pairs that joined in the period, to and from one agency."""

    agency: str
    start: date
    end: date
    rows: list[FlowRow]

    def direction(self, which: str) -> list[FlowRow]:
        return [r for r in self.rows if r.direction == which]


def report_scope(actor: Actor) -> ColumnElement[bool]:
    """Coordinators and admins count the whole network; gatekeepers and providers their
    programs. Reports are counts, so providers see all of their program's, like its gatekeeper."""
    if actor.is_admin or actor.has(Role.COORDINATOR):
        return true()
    programs = actor.programs(Role.GATEKEEPER, Role.PROVIDER)
    if not programs:
        raise Forbidden(
            "Reports count the referrals of programs, and you have no coordinator, gatekeeper, "
            "provider or admin role.",
            hint="Ask your agency's security officer for the role you need.",
        )
    return Recipient.program_id.in_(programs)


def delays(session: Session, *, actor: Actor) -> DelaysReport:
    """Every open referral-program pair the actor may count, by stage and by age today."""
    moment = now(session)
    bucket = case(
        *[
            (Referral.first_published_at > moment - timedelta(days=last + 1), index)
            for index, (_label, last) in enumerate(AGE_BUCKETS)
            if last is not None
        ],
        else_=len(AGE_BUCKETS) - 1,
    )
    stage = _stage()
    query = (
        select(stage.label("stage"), bucket.label("bucket"), func.count().label("n"))
        .select_from(Recipient)
        .join(Referral, Referral.id == Recipient.referral_id)
        .where(
            Recipient.active.is_(True),
            Referral.state.in_(ACTIVE_STATES),
            report_scope(actor),
        )
        .group_by(stage, bucket)
    )
    counts = {name: [0] * len(AGE_BUCKETS) for name in STAGES}
    for row in session.execute(query):
        counts[row.stage][int(row.bucket)] = int(row.n)
    return DelaysReport(tuple(label for label, _last in AGE_BUCKETS), counts)


def outcomes(
    session: Session, *, actor: Actor, start: date | None = None, end: date | None = None
) -> OutcomesReport:
    """Responses given (current versions) in the period, by program, response and reason."""
    start, end = _period(session, start, end)
    since, until = _bounds(session, start, end)
    query = (
        select(
            Program.name.label("program"),
            Recipient.response,
            Recipient.response_reason,
            func.count().label("n"),
        )
        .select_from(Recipient)
        .join(Referral, Referral.id == Recipient.referral_id)
        .join(Program, Program.id == Recipient.program_id)
        .where(
            Recipient.active.is_(True),
            Recipient.response.is_not(None),
            Referral.state != ReferralState.DELETED,
            Recipient.responded_at >= since,
            Recipient.responded_at < until,
            report_scope(actor),
        )
        .group_by(Program.name, Recipient.response, Recipient.response_reason)
        .order_by(Program.name, Recipient.response, Recipient.response_reason)
    )
    rows = [
        OutcomeCount(r.program, RESPONSE_WORDS[r.response], r.response_reason, int(r.n))
        for r in session.execute(query)
    ]
    return OutcomesReport(start, end, rows)


def agency_flow(
    session: Session,
    *,
    actor: Actor,
    agency: str,
    start: date | None = None,
    end: date | None = None,
) -> AgencyFlowReport:
    """Referrals to the agency's programs, and from its coordinators to any program, counted
    per referral and program that joined in the period, with how they were answered."""
    found = _agency(session, agency)
    start, end = _period(session, start, end)
    since, until = _bounds(session, start, end)
    scope = report_scope(actor)
    base = [
        Recipient.joined_at >= since,
        Recipient.joined_at < until,
        Referral.state != ReferralState.DELETED,
        scope,
    ]
    receiving = select(Agency.name).where(Agency.id == Program.agency_id).scalar_subquery()
    to_rows = _flow(
        session, "to", Program.name, and_(Program.agency_id == found.id, *base), coordinator=False
    )
    from_rows = _flow(
        session, "from", receiving, and_(Staff.agency_id == found.id, *base), coordinator=True
    )
    return AgencyFlowReport(found.name, start, end, to_rows + from_rows)


def _flow(
    session: Session, direction: str, label: Any, where: ColumnElement[bool], *, coordinator: bool
) -> list[FlowRow]:
    def answered(kind: ResponseKind) -> Any:
        return func.sum(case((Recipient.response == kind, 1), else_=0))

    query = (
        select(
            label.label("counterpart"),
            func.count().label("n"),
            answered(ResponseKind.ACCEPT).label("accepted"),
            answered(ResponseKind.TENTATIVE).label("tentative"),
            answered(ResponseKind.DECLINE).label("declined"),
            func.sum(case((Recipient.response.is_(None), 1), else_=0)).label("waiting"),
        )
        .select_from(Recipient)
        .join(Referral, Referral.id == Recipient.referral_id)
        .join(Program, Program.id == Recipient.program_id)
    )
    if coordinator:
        query = query.join(Staff, Staff.id == Referral.primary_coordinator_id)
    query = query.where(where).group_by(label).order_by(label)
    return [
        FlowRow(
            direction,
            r.counterpart,
            int(r.n),
            int(r.accepted),
            int(r.tentative),
            int(r.declined),
            int(r.waiting),
        )
        for r in session.execute(query)
    ]


def _stage() -> Any:
    return case(
        (Recipient.response == ResponseKind.DECLINE, RESPONSE_WORDS[ResponseKind.DECLINE]),
        (Recipient.response == ResponseKind.ACCEPT, RESPONSE_WORDS[ResponseKind.ACCEPT]),
        (Recipient.response == ResponseKind.TENTATIVE, RESPONSE_WORDS[ResponseKind.TENTATIVE]),
        (Recipient.assignee_id.is_not(None), "assigned, no response"),
        else_="unassigned",
    )


def _agency(session: Session, text: str) -> Agency:
    wanted = text.strip()
    found = (
        session.scalar(
            select(Agency).where(
                or_(Agency.key == wanted, func.lower(Agency.name) == wanted.lower())
            )
        )
        if wanted
        else None
    )
    if found is None:
        raise InvalidInput(
            f'"{wanted}" is not an agency in the directory.' if wanted else "Choose an agency.",
            field="agency",
            hint="Pick one from the list of agencies.",
        )
    return found


def _period(session: Session, start: date | None, end: date | None) -> tuple[date, date]:
    """The period, both days included; the last 30 days up to today when not given."""
    today = now(session).astimezone(settings_of(session).zone).date()
    end = end or today
    start = start or end - timedelta(days=29)
    if start > end:
        raise InvalidInput(
            f"The period starts ({start.isoformat()}) after it ends ({end.isoformat()}).",
            field="from",
            hint="Choose a start date on or before the end date.",
        )
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidInput(
            "The period is longer than three years.",
            field="from",
            hint="Choose a shorter period.",
        )
    return start, end


def _bounds(session: Session, start: date, end: date) -> tuple[datetime, datetime]:
    """The period as instants: from local midnight of the first day to that after the last."""
    zone = settings_of(session).zone
    return (
        datetime.combine(start, time(), zone),
        datetime.combine(end + timedelta(days=1), time(), zone),
    )


def agencies(session: Session) -> list[tuple[str, str]]:
    """(key, name) of every agency, for the agency report's form."""
    return [(a.key, a.name) for a in session.scalars(select(Agency).order_by(Agency.name))]
