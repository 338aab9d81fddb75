"""`closeloop demo`: one whole referral loop on a throwaway database, printed as people see it."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.actors import actor_by_email
from bot.context import today
from bot.demo.seed import seed_demo
from bot.domain.permissions import Actor
from bot.domain.vocab import Channel
from bot.runtime import Runtime
from bot.services import clients, referrals, work
from bot.settings import Settings
from bot.texts import local_moment
from handlers.console import ConsoleTransport
from storage.db import transaction
from storage.migrate import upgrade
from storage.models import AuditEvent, Staff

COORDINATOR = "casey.morgan@dmh-regional.example.org"
GATEKEEPER = "grace@heartland.example.org"
PROVIDER = "dana@heartland.example.org"


def run_demo(out: TextIO) -> None:
    with tempfile.TemporaryDirectory(prefix="closeloop-demo-") as folder:
        settings = Settings(database_url=f"sqlite:///{Path(folder) / 'demo.db'}")
        runtime = Runtime(
            settings, transports={"console": ConsoleTransport(out, public_url=settings.public_url)}
        )
        try:
            _run(runtime, out)
        finally:
            runtime.close()


def _consent(session: Session, actor: Actor, client_id: int, programs: list[str]) -> None:
    """The demo network requires consent: the client's release of information, signed."""
    clients.sign_consent(
        session,
        actor=actor,
        data={
            "client_id": client_id,
            "programs": programs,
            "info_types": ["demographics", "service needs"],
            "signed_by": "the client",
            "method": "electronic",
        },
        channel=Channel.CLI,
    )


def _step(out: TextIO, runtime: Runtime, title: str) -> None:
    out.write(f"\n=== {title} ===\n")
    delivered = runtime.dispatcher().drain()
    out.write(f"({delivered} notification{'s' if delivered != 1 else ''} delivered)\n")


def _run(runtime: Runtime, out: TextIO) -> None:
    upgrade(runtime.engine)
    with transaction(runtime.sessions) as s:
        result = seed_demo(s, today(s))
    out.write(f"Demo network loaded: {result.summary()}\n")

    with transaction(runtime.sessions) as s:
        casey = actor_by_email(s, COORDINATOR)
        client = clients.create_client(
            s,
            actor=casey,
            data={
                "first_name": "Jordan",
                "last_name": "Example",
                "birth_date": date(1998, 4, 12),
                "county": "Boone",
                "phone": "573-555-0142",
            },
            channel=Channel.CLI,
        )
        _consent(s, casey, client.id, ["heartland-residential", "heartland-day"])
        county = referrals.create_referral(
            s,
            actor=casey,
            draft={
                "client_id": client.id,
                "facility_code": "CMO",
                "needs": ["RES", "DAY"],
                "counties": ["Boone County"],
                "urgency": "urgent",
            },
            channel=Channel.CLI,
        )
        county_number = county.number or ""
        referrals.publish_referral(s, actor=casey, number=county_number, channel=Channel.CLI)
    _step(out, runtime, f"Casey publishes county referral {county_number} (Boone County)")

    with transaction(runtime.sessions) as s:
        casey = actor_by_email(s, COORDINATOR)
        other = clients.create_client(
            s,
            actor=casey,
            data={
                "first_name": "Riley",
                "last_name": "Sample",
                "birth_date": date(2001, 9, 30),
                "address": "12 Elm St, Columbia",
            },
            channel=Channel.CLI,
        )
        _consent(s, casey, other.id, ["ozark-behaviour"])
        statewide = referrals.create_referral(
            s,
            actor=casey,
            draft={
                "client_id": other.id,
                "facility_code": "CMO",
                "needs": ["BEH"],
                "statewide": True,
            },
            channel=Channel.CLI,
        )
        statewide_number = statewide.number or ""
        referrals.publish_referral(s, actor=casey, number=statewide_number, channel=Channel.CLI)
    _step(out, runtime, f"Casey publishes statewide referral {statewide_number}")

    with transaction(runtime.sessions) as s:
        grace = actor_by_email(s, GATEKEEPER)
        work.assign_referral(
            s,
            actor=grace,
            number=county_number,
            provider=PROVIDER,
            program="heartland-residential",
            channel=Channel.SLACK,
        )
    _step(out, runtime, "Grace (gatekeeper) assigns it to Dana at Heartland Residential")

    with transaction(runtime.sessions) as s:
        dana = actor_by_email(s, PROVIDER)
        work.respond_to_referral(
            s,
            actor=dana,
            number=county_number,
            kind="tentative",
            reason="funding",
            comment="Waiting on the waiver approval; a bed is held.",
            channel=Channel.EMAIL,
        )
    _step(out, runtime, "Dana accepts with a provision (pending funding approval)")

    with transaction(runtime.sessions) as s:
        grace = actor_by_email(s, GATEKEEPER)
        work.respond_to_referral(
            s,
            actor=grace,
            number=county_number,
            kind="decline",
            reason="no vacancy",
            program="heartland-day",
            channel=Channel.SLACK,
        )
    _step(out, runtime, "Grace declines for Heartland Day Program (no vacancy)")

    with transaction(runtime.sessions) as s:
        casey = actor_by_email(s, COORDINATOR)
        referrals.mark_pending_placement(s, actor=casey, number=county_number, channel=Channel.CLI)
        referrals.close_referral(
            s,
            actor=casey,
            number=county_number,
            closing={"outcome": "fully met"},
            channel=Channel.CLI,
        )
    _step(out, runtime, "Casey marks it pending placement, then closes it (need fully met)")

    out.write(f"\n=== Audit trail of {county_number} ===\n")
    with transaction(runtime.sessions) as s:
        names = dict(s.execute(select(Staff.id, Staff.name)).all())
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.referral_id == county.id).order_by(AuditEvent.id)
        ).all()
        for row in rows:
            who = names.get(row.actor_id, "closeloop") if row.actor_id else "closeloop"
            at = local_moment(row.at)
            out.write(f"{at:%Y-%m-%d %H:%M:%S %Z}  {row.channel:<6} {who:<14} {row.action}\n")
