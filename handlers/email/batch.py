"""What a batch of email replies acts on, read in a few queries and held while it is applied.

Replies come in bursts about the same few people and referrals: the gatekeeper assigns, the
provider accepts, sets a status, writes a note. Read one at a time, each reply asked again for
its sender, their roles, its referral, the referral's recipients, counties and coordinator:
about ten queries a reply (docs/benchmarks.md). Read here once for the whole batch, in the
batch's own transaction, they are as current as if each reply had read them, and the rows are
held so the session finds them again without asking (it keeps only objects someone refers to).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.context import now
from bot.services.lookup import known_referrals, known_service_names
from bot.services.pools import known_providers
from bot.settings import Settings
from handlers.email.tokens import TokenClaims, TokenError, check_token
from storage.db import locked
from storage.models import Recipient, Referral, RoleGrant, Staff


@dataclass
class Preloaded:
    """The rows a batch's replies name, and each sender's unrevoked role grants."""

    grants: dict[int, list[RoleGrant]] = field(default_factory=dict)
    rows: list[object] = field(default_factory=list)


def preload(session: Session, settings: Settings, tokens: Iterable[str | None]) -> Preloaded:
    """Staff, grants and referrals (with recipients, programs, counties, coordinator) named by
    the valid `tokens`; an invalid token is left for its reply to refuse."""
    staff_ids: set[int] = set()
    referral_ids: set[int] = set()
    moment = now(session)
    for token in tokens:
        if token is None:
            continue
        try:
            claims: TokenClaims = check_token(settings.verifying_keys, token, now=moment)
        except TokenError:
            continue
        staff_ids.add(claims.staff_id)
        if claims.subject_kind == "r":
            referral_ids.add(claims.subject_id)
    loaded = Preloaded()
    if not staff_ids:
        return loaded
    loaded.rows.extend(session.scalars(select(Staff).where(Staff.id.in_(staff_ids))))
    grants: dict[int, list[RoleGrant]] = defaultdict(list)
    for grant in session.scalars(
        select(RoleGrant).where(RoleGrant.staff_id.in_(staff_ids), RoleGrant.revoked_at.is_(None))
    ):
        grants[grant.staff_id].append(grant)
    loaded.grants = {staff_id: grants[staff_id] for staff_id in staff_ids}
    if referral_ids and session.get_bind().dialect.name != "sqlite":
        # The rows the replies' use cases lock one at a time, locked in one statement, in one
        # order (SQLite locks the whole database instead).
        recipients = session.scalars(
            select(Recipient)
            .where(Recipient.referral_id.in_(referral_ids))
            .order_by(Recipient.id)
            .with_for_update()
        ).all()
        locked(session, recipients)
        loaded.rows.extend(recipients)
    if referral_ids:
        referrals = session.scalars(
            select(Referral)
            .where(Referral.id.in_(referral_ids))
            .options(
                selectinload(Referral.recipients).selectinload(Recipient.program),
                selectinload(Referral.counties),
                selectinload(Referral.primary_coordinator),
            )
        ).all()
        known_referrals(session, referrals)
        known_service_names(session, {code for r in referrals for code in r.needs})
        known_providers(session, {rc.program_id for r in referrals for rc in r.recipients})
        loaded.rows.extend(referrals)
    return loaded
