"""The parts a process is made of, built from settings: engine, sessions, transports, dispatcher."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Transport
from bot.outbox import Dispatcher
from bot.settings import Settings
from storage.db import make_engine, make_session_factory
from storage.types import utcnow


class Runtime:
    """One per process. Nothing here connects until it is used."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        transports: dict[str, Transport] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.engine: Engine = make_engine(settings.database_url)
        self.sessions: sessionmaker[Session] = make_session_factory(
            self.engine, settings=settings, clock=clock
        )
        self._transports = transports

    def transports(self) -> dict[str, Transport]:
        if self._transports is None:
            self._transports = default_transports(self.settings)
        return self._transports

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(
            self.sessions,
            self.transports(),
            max_attempts=self.settings.outbox_max_attempts,
            base_delay=self.settings.outbox_base_delay_seconds,
            clock=self.clock,
        )

    def close(self) -> None:
        self.engine.dispose()


def default_transports(settings: Settings) -> dict[str, Transport]:
    """The console stands in for every channel that is not configured."""
    from handlers.console import ConsoleTransport

    path = Path(settings.outbox_log) if settings.outbox_log else None
    transports: dict[str, Transport] = {
        "console": ConsoleTransport(path=path, public_url=settings.public_url)
    }
    return transports
