"""Who may be assigned a program's referrals (its pool), read one program at a time or, for a
batch of email replies, for all the batch's programs at once."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.vocab import Role
from bot.notify import holding
from storage.models import RoleGrant, Staff

# Each program's pool (`providers_of`) this session has read already (`known_providers`).
_POOLS = "providers_by_program"
_ASSIGNABLE = (Role.PROVIDER, Role.GATEKEEPER)


def known_providers(session: Session, program_ids: Iterable[int]) -> None:
    """Read the pools of these programs in one query for this session's transaction: a batch
    of email replies (handlers/email/batch.py) assigns their referrals one reply at a time."""
    ids = set(program_ids)
    pools: dict[int, list[Staff]] = {program_id: [] for program_id in ids}
    if ids:
        rows = session.execute(
            select(RoleGrant.program_id, Staff)
            .join(RoleGrant, RoleGrant.staff_id == Staff.id)
            .where(
                RoleGrant.role.in_(_ASSIGNABLE),
                RoleGrant.revoked_at.is_(None),
                RoleGrant.program_id.in_(ids),
                Staff.active.is_(True),
            )
            .order_by(RoleGrant.program_id, Staff.id)
        ).all()
        for program_id, person in rows:
            pool = pools.setdefault(program_id or 0, [])
            if not pool or pool[-1].id != person.id:
                pool.append(person)
    known: dict[int, list[Staff]] = session.info.setdefault(_POOLS, {})
    known.update((program_id, _by_name(pool)) for program_id, pool in pools.items())


def providers_of(session: Session, program_id: int) -> list[Staff]:
    """Who may be assigned the program's referrals: its providers and gatekeepers, by name."""
    known = session.info.get(_POOLS, {}).get(program_id)
    if known is not None:
        return list(known)
    return _by_name(holding(session, _ASSIGNABLE, RoleGrant.program_id == program_id))


def _by_name(people: list[Staff]) -> list[Staff]:
    return sorted(people, key=lambda s: s.name)
