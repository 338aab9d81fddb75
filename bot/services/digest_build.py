"""What a coordinators' digest says: built for every target at once, one section at a time."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.lifecycle import AGING_DAYS, age_days
from bot.domain.vocab import ACTIVE_STATES, ReferralState, ResponseKind
from bot.services.grid import overdue_cutoff
from bot.services.programs import stated_capacities
from storage.models import (
    AuditEvent,
    County,
    Program,
    Recipient,
    Referral,
    ServiceCode,
    referral_counties,
)

MAX_LISTED = 50
LISTED = ("new", "responses", "status_changes", "pending", "overdue", "aging")


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


class Board:
    """Every target's digest as it is built, and which targets see a referral of a scope."""

    def __init__(
        self, targets: dict[str, set[int] | None], since: dict[str, datetime], until: datetime
    ) -> None:
        self.targets = list(targets)
        self.since, self.until = since, until
        self._everywhere = [t for t, counties in targets.items() if counties is None]
        self._by_county: dict[int, list[str]] = defaultdict(list)
        for t, counties in targets.items():
            for county in counties or ():
                self._by_county[county].append(t)
        self._audiences: dict[str, list[str]] = {}
        self.out: dict[str, dict[str, Any]] = {
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

    def audience(self, scope: str) -> list[str]:
        """The targets that see referrals of `scope`, in the targets' order."""
        if scope not in self._audiences:
            if scope == STATEWIDE:
                self._audiences[scope] = self.targets
            else:
                found = set(self._everywhere)
                for county in _county_ids(scope):
                    found.update(self._by_county.get(county, ()))
                self._audiences[scope] = [t for t in self.targets if t in found]
        return self._audiences[scope]

    def deal(self, section: str, scope: str, item: Any) -> None:
        """List `item` in `section` of every target of `scope` with room left."""
        for t in self.audience(scope):
            listed = self.out[t][section]
            if len(listed) < MAX_LISTED:
                listed.append(item)

    def in_period(self, target: str, at: datetime) -> bool:
        return self.since[target] < at <= self.until


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
    board = Board(targets, since, until)
    active = _scoped(Referral.state.in_(ACTIVE_STATES))
    _standing(session, board, active)
    _programs(session, board, active)
    earliest = min(since.values(), default=until)
    _new(session, board, earliest)
    _answers(session, board, earliest)
    capacities = stated_capacities(session, targets)
    return {
        target: {**_finished(digest), "capacity": capacities.get(target, [])}
        for target, digest in board.out.items()
    }


def _standing(session: Session, board: Board, active: Any) -> None:
    """Pending placements and aging referrals: counted per scope, listed (pending by number,
    aging oldest first)."""
    pending = active.c.state == ReferralState.PENDING_PLACEMENT
    aging = active.c.first_published_at < board.until - timedelta(days=AGING_DAYS)
    for scope, pending_n, aging_n in session.connection().execute(
        select(
            active.c.scope,
            func.count(case((pending, 1))),
            func.count(case((aging, 1))),
        ).group_by(active.c.scope)
    ):
        for t in board.audience(scope):
            board.out[t]["pending_count"] += pending_n
            board.out[t]["aging_count"] += aging_n
    number = _by_number(session, active.c.number)
    for row in _first_per_scope(
        session, select(active.c.number).where(pending), scope=active.c.scope, order=[number]
    ):
        board.deal("pending", row.scope, row.number or "")
    for row in _first_per_scope(
        session,
        select(active.c.number, active.c.first_published_at).where(aging),
        scope=active.c.scope,
        order=[active.c.first_published_at, number],
    ):
        age = age_days(row.first_published_at, board.until)
        board.deal("aging", row.scope, {"number": row.number or "", "age_days": age})


def _programs(session: Session, board: Board, active: Any) -> None:
    """Per program: referrals still waiting for an answer (or tentatively accepted), and the
    overdue ones (no assignment, no response, five business days after joining), listed."""
    program_names = dict(session.execute(select(Program.id, Program.name)).all())
    outstanding = or_(Recipient.response.is_(None), Recipient.response == ResponseKind.TENTATIVE)
    overdue = and_(
        active.c.state == ReferralState.OPEN,
        Recipient.assignee_id.is_(None),
        Recipient.response.is_(None),
        Recipient.joined_at < overdue_cutoff(session),
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
        for t in board.audience(scope):
            if outstanding_n:
                board.out[t]["outstanding"][program_names[program_id]] += outstanding_n
            board.out[t]["overdue_count"] += overdue_n
    for row in _first_per_scope(
        session,
        pairs.add_columns(active.c.number, Recipient.program_id, Recipient.joined_at).where(
            overdue
        ),
        scope=active.c.scope,
        order=[Recipient.joined_at, Recipient.id],
    ):
        item = {
            "number": row.number or "",
            "program": program_names[row.program_id],
            "since": row.joined_at.date().isoformat(),
        }
        board.deal("overdue", row.scope, item)


def _new(session: Session, board: Board, earliest: datetime) -> None:
    """New in the period: a day's worth of referrals, listed in full detail."""
    names = dict(session.execute(select(ServiceCode.code, ServiceCode.name)).all())
    county_names = dict(session.execute(select(County.id, County.name)).all())
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
        where = ", ".join(sorted(county_names[c] for c in _county_ids(row.scope)))
        item = {
            "number": row.number or "",
            "where": "Statewide" if row.statewide else where,
            "needs": ", ".join(f"{c} ({names.get(c, c)})" for c in row.needs),
            "urgency": str(row.urgency),
            "programs": programs_per_referral.get(row.id, 0),
        }
        for t in board.audience(row.scope):
            if board.in_period(t, row.first_published_at):
                board.out[t]["new"].append(item)


def _answers(session: Session, board: Board, earliest: datetime) -> None:
    """Responses and status changes in the period, of any referral (closed ones too)."""
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
            AuditEvent.at <= board.until,
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
        for t in board.audience(scope):
            if not board.in_period(t, at):
                continue
            digest = board.out[t]
            if action == "service_status_changed":
                status = detail.get("status")
                digest["status_changes"].append(
                    {"number": number, "program": program, "status": status}
                )
                continue
            digest["responses"].append(
                {
                    "number": number,
                    "program": program,
                    "response": detail.get("response"),
                    "reason": detail.get("reason"),
                    "edited": action == "response_edited",
                }
            )
            if action == "response_given":
                digest["answered"].add((rid, program))


def _finished(digest: dict[str, Any]) -> dict[str, Any]:
    """The counts and the lists cut to MAX_LISTED, as the templates read them."""
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
    return digest


def build_digest(
    session: Session, *, county_ids: set[int] | None, since: datetime, until: datetime
) -> dict[str, Any]:
    """One target's digest (see build_digests)."""
    return build_digests(session, targets={"one": county_ids}, since={"one": since}, until=until)[
        "one"
    ]
