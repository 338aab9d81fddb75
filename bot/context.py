"""What a use case reads from its session: the settings and the clock (tests control both)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from bot.settings import Settings
from storage.types import utcnow


def now(session: Session) -> datetime:
    clock = session.info.get("clock") or utcnow
    return clock()


def today(session: Session) -> date:
    """Today in the network's time zone (a day starts at local midnight, not UTC's)."""
    moment = now(session)
    settings = settings_of(session)
    return moment.astimezone(settings.zone).date()


def local_date(session: Session, moment: datetime) -> date:
    """The network's local date at `moment`."""
    return moment.astimezone(settings_of(session).zone).date()


def settings_of(session: Session) -> Settings:
    settings = session.info.get("settings")
    if settings is None:
        settings = Settings()
        session.info["settings"] = settings
    return settings
