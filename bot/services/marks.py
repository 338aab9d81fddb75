"""Schedule marks: claim (job, person, referral, program, period) tuples exactly once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import ScheduleMark

Mark = tuple[int, int, int, int]  # staff, referral, program, period

_CHUNK = 500


def already_marked(session: Session, job: str) -> set[Mark]:
    rows = session.execute(
        select(
            ScheduleMark.staff_id,
            ScheduleMark.referral_id,
            ScheduleMark.program_id,
            ScheduleMark.period,
        ).where(ScheduleMark.job == job)
    )
    return {(s, r, p, n) for s, r, p, n in rows}


def claim(session: Session, job: str, marks: Iterable[Mark], at: datetime) -> dict[Mark, int]:
    """Insert the marks that are new and return them with their ids. A mark another clock
    inserted first (even concurrently: PostgreSQL makes this insert wait for that one's commit)
    is not returned, so only one clock ever acts on it."""
    wanted = list(dict.fromkeys(marks))
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    claimed: dict[Mark, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        statement = (
            insert(ScheduleMark)
            .values(
                [
                    {
                        "job": job,
                        "staff_id": s,
                        "referral_id": r,
                        "program_id": p,
                        "period": n,
                        "created_at": at,
                    }
                    for s, r, p, n in chunk
                ]
            )
            .on_conflict_do_nothing()
            .returning(
                ScheduleMark.id,
                ScheduleMark.staff_id,
                ScheduleMark.referral_id,
                ScheduleMark.program_id,
                ScheduleMark.period,
            )
        )
        for mark_id, s, r, p, n in session.execute(statement):
            claimed[(s, r, p, n)] = mark_id
    return claimed
