"""Schedule marks: claim (job, person, referral, program, period) tuples exactly once; and runs
of a job that take turns."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.domain.vocab import ReferralState
from storage.models import Referral, ScheduleMark

Mark = tuple[int, int, int, int]  # staff, referral, program, period

_CHUNK = 500


def one_run_at_a_time(session: Session, job: str) -> None:
    """Make any other run of `job` (a second clock, a slow run overlapping the next) wait until
    this transaction ends, so that it sees what this one wrote. On PostgreSQL a transaction-level
    advisory lock; SQLite transactions already take the database's write lock when they begin."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(job.encode())}
        )


def already_marked(session: Session, job: str) -> set[Mark]:
    """The marks of `job` on referrals still open: what a job decides from, whereas the marks
    of closed referrals, which pile up over the years, can never be wanted again."""
    rows = session.execute(
        select(
            ScheduleMark.staff_id,
            ScheduleMark.referral_id,
            ScheduleMark.program_id,
            ScheduleMark.period,
        )
        .join(Referral, Referral.id == ScheduleMark.referral_id)
        .where(ScheduleMark.job == job, Referral.state == ReferralState.OPEN)
    )
    return {(s, r, p, n) for s, r, p, n in rows}


def claim(session: Session, job: str, marks: Iterable[Mark], at: datetime) -> dict[Mark, int]:
    """Insert the marks that are new and return them with their ids. A mark another clock
    inserted first (even concurrently: PostgreSQL makes this insert wait for that one's commit)
    is not returned, so only one clock ever acts on it."""
    wanted = list(dict.fromkeys(marks))
    if not wanted:
        return {}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _claim_postgresql(session, job, wanted, at)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = ScheduleMark.metadata.tables["schedule_marks"]
    # One statement, many parameter sets: SQLAlchemy batches it ("insertmanyvalues") instead of
    # compiling a fresh multi-row VALUES clause per chunk, which dominated the cost.
    statement = (
        insert(table)
        .on_conflict_do_nothing()
        .returning(
            table.c.id, table.c.staff_id, table.c.referral_id, table.c.program_id, table.c.period
        )
    )
    rows = [
        {
            "job": job,
            "staff_id": s,
            "referral_id": r,
            "program_id": p,
            "period": n,
            "created_at": at,
        }
        for s, r, p, n in wanted
    ]
    claimed: dict[Mark, int] = {}
    for mark_id, s, r, p, n in session.connection().execute(statement, rows):
        claimed[(s, r, p, n)] = mark_id
    return claimed


def _claim_postgresql(
    session: Session, job: str, wanted: list[Mark], at: datetime
) -> dict[Mark, int]:
    """The same as claim(), as one statement over arrays: psycopg parses a many-row VALUES
    statement on the client, which took seconds for a backlog of tens of thousands of marks.
    The arrays go as text ('{1,2,3}'): psycopg dumps a list of ints one element at a time."""
    rows = session.execute(
        text(
            "INSERT INTO schedule_marks"
            " (job, staff_id, referral_id, program_id, period, created_at)"
            " SELECT :job, s, r, p, n, :at"
            " FROM unnest(CAST(:s AS integer[]), CAST(:r AS integer[]),"
            " CAST(:p AS integer[]), CAST(:n AS integer[])) AS t(s, r, p, n)"
            " ON CONFLICT DO NOTHING"
            " RETURNING id, staff_id, referral_id, program_id, period"
        ),
        {
            "job": job,
            "at": at,
            "s": _array(m[0] for m in wanted),
            "r": _array(m[1] for m in wanted),
            "p": _array(m[2] for m in wanted),
            "n": _array(m[3] for m in wanted),
        },
    )
    return {(s, r, p, n): mark_id for mark_id, s, r, p, n in rows}


def _array(values: Iterable[int]) -> str:
    """An integer array literal, for CAST(:x AS integer[])."""
    return "{" + ",".join(map(str, values)) + "}"
