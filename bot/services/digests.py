"""The coordinators' daily digest: what happened and where things stand, per region or person.

Each digest covers everything since its target's previous one (named in the outbox key with
the date), so a rerun writes nothing twice and a run after downtime catches up once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from bot.batch import batch_job
from bot.context import now, settings_of, today
from bot.domain.permissions import Actor
from bot.domain.vocab import Role
from bot.errors import Forbidden, NotFound
from bot.notify import addresses, enqueue, holding
from bot.services.digest_build import build_digest, build_digests
from bot.texts import render
from storage.models import (
    OutboxMessage,
    Region,
    RoleGrant,
    Staff,
)


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
    readers = holding(session, Role.COORDINATOR, Staff.wants_digest_email.is_(True))
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
