"""The demo network: Missouri's 115 county-level units, a few agencies, programs and staff."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services.directory import ImportResult, import_directory, parse_directory
from bot.settings import Settings
from storage.models import County, Referral, Staff

DEMO_FILE = Path(__file__).resolve().parent / "missouri.json"


def demo_directory(today: date) -> dict[str, Any]:
    """The demo file with its agreements dated `today`: the file itself carries no MOU dates,
    so the demo never expires a year after it was written."""
    data: dict[str, Any] = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    for agency in data["agencies"]:
        agency.setdefault("mou_signed_on", today.isoformat())
        agency.setdefault("mou_expires_on", (today + timedelta(days=365)).isoformat())
    for person in data["staff"]:
        person.setdefault("user_mou_signed_on", today.isoformat())
    # Consent enforcement on, so a newcomer sees a referral go only where the client agreed.
    data.setdefault("network", {}).setdefault("consent_required", True)
    return data


def seed_demo(session: Session, today: date) -> ImportResult:
    directory = parse_directory(demo_directory(today), source=DEMO_FILE.name)
    return import_directory(session, directory=directory, source=DEMO_FILE.name)


def is_empty(session: Session) -> bool:
    return session.scalar(select(County.id).limit(1)) is None


def has_referrals(session: Session) -> bool:
    return session.scalar(select(Referral.id).limit(1)) is not None


# One demo address per role, for the welcome `closeloop serve` prints.
SIGN_IN_AS = (
    ("coordinator", "casey.morgan@dmh-regional.example.org"),
    ("gatekeeper", "grace@heartland.example.org"),
    ("provider", "dana@heartland.example.org"),
    ("security officer", "helen.security@heartland.example.org"),
    ("admin", "admin@network.example.org"),
)


def welcome(session: Session, settings: Settings) -> str | None:
    """What to open and who to sign in as, when the database holds the demo network."""
    demo = set(session.scalars(select(Staff.email).where(Staff.active.is_(True))))
    people = [(role, email) for role, email in SIGN_IN_AS if email in demo]
    if not people:
        return None
    where = (
        "is printed here, in this terminal, as the email it stands for"
        if "console" in settings.notify_channels
        else "is sent by email"
    )
    lines = [
        "",
        "=" * 72,
        f"  closeloop is running: open {settings.public_url}",
        "  Sign in with one of the demo network's addresses (no password):",
        *(f"    {role:<17} {email}" for role, email in people),
        f"  The sign-in link {where}.",
        "=" * 72,
        "",
    ]
    return "\n".join(lines)
