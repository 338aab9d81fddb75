"""The demo network: Missouri's 115 county-level units, a few agencies, programs and staff."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services.directory import ImportResult, import_directory, parse_directory
from storage.models import County

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
