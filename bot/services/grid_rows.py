"""The grid's copies, kept in step with their source: the one place that writes them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from storage.models import Client, Program, Recipient, Referral, referral_needs

# Each referral-program row carries what the grid filters and sorts on, so that every grid
# order is one index on `recipients` (see docs/benchmarks.md). Every use case that changes one
# of these sources calls `refresh_grid_rows` in its transaction: publishing, re-publishing,
# pending placement, closing, deleting and editing a referral, programs joining open
# referrals, and a directory import that renames programs. A use case that edits a client's
# last name (none does yet) must refresh that client's referrals too.
_FROM_REFERRAL = {
    "grid_state": Referral.state,
    "grid_published_at": Referral.first_published_at,
    "grid_number": Referral.number,
    "grid_urgency": Referral.urgency,
    "grid_statewide": Referral.statewide,
    "grid_coordinator_id": Referral.primary_coordinator_id,
}


def _copies_for_referral() -> dict[str, object]:
    """Correlated subqueries giving each copied column's source value for a recipients row."""
    values: dict[str, object] = {
        name: select(source).where(Referral.id == Recipient.referral_id).scalar_subquery()
        for name, source in _FROM_REFERRAL.items()
    }
    values["grid_program"] = _program_name()
    values["grid_last_name"] = (
        select(Client.last_name)
        .join(Referral, Referral.client_id == Client.id)
        .where(Referral.id == Recipient.referral_id)
        .scalar_subquery()
    )
    return values


def _program_name() -> object:
    return select(Program.name).where(Program.id == Recipient.program_id).scalar_subquery()


def refresh_grid_rows(
    session: Session, *, referral_ids: Iterable[int] = (), program_ids: Iterable[int] = ()
) -> None:
    """Rewrite the copies on the rows of these referrals (every column, and the referral's
    needs) and of these programs (the program's name), from what the session holds now."""
    session.flush()
    referrals = sorted(set(referral_ids))
    programs = sorted(set(program_ids))
    if referrals:
        session.execute(
            update(Recipient)
            .where(Recipient.referral_id.in_(referrals))
            .values(_copies_for_referral()),
            execution_options={"synchronize_session": False},
        )
        session.execute(delete(referral_needs).where(referral_needs.c.referral_id.in_(referrals)))
        rows = [
            {"referral_id": rid, "code": code}
            for rid, needs in session.execute(
                select(Referral.id, Referral.needs).where(Referral.id.in_(referrals))
            )
            for code in dict.fromkeys(needs or [])
        ]
        if rows:
            session.execute(insert(referral_needs), rows)
    if programs:
        session.execute(
            update(Recipient)
            .where(Recipient.program_id.in_(programs))
            .values(grid_program=_program_name()),
            execution_options={"synchronize_session": False},
        )


def stale_grid_rows(session: Session) -> list[int]:
    """Referral ids whose copies differ from their source (none, when every use case calls
    `refresh_grid_rows`): for tests and for an operator's check after a manual repair."""
    source = _copies_for_referral()
    differs = [getattr(Recipient, name).is_distinct_from(value) for name, value in source.items()]
    stale = set(session.scalars(select(Recipient.referral_id).where(or_(*differs))))
    copied: dict[int, set[str]] = {}
    for rid, code in session.execute(select(referral_needs)):
        copied.setdefault(rid, set()).add(code)
    for rid, needs in session.execute(select(Referral.id, Referral.needs)):
        if set(needs or []) != copied.get(rid, set()):
            stale.add(rid)
    return sorted(stale)
