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
from bot.texts import use_timezone
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
        # Every text this process renders shows times in the network's zone (bot/texts.py).
        use_timezone(settings.timezone)
        self.engine: Engine = make_engine(settings.database_url)
        self.sessions: sessionmaker[Session] = make_session_factory(
            self.engine, settings=settings, clock=clock
        )
        self._transports = transports
        self._given_transports = transports is not None
        # Task changes, whichever channel makes them, reach FHIR REST-hook subscribers.
        from bot.services.fhir_hooks import install

        install(self.sessions)

    def transports(self) -> dict[str, Transport]:
        if self._transports is None:
            from bot.metrics import MeasuredTransport

            # Measured (bot/metrics.py); tests that pass their own transports get them as is.
            self._transports = {
                name: MeasuredTransport(transport)
                for name, transport in default_transports(self.settings, self.sessions).items()
            }
        return self._transports

    def dispatcher(self) -> Dispatcher:
        return self._dispatcher(self.transports())

    def dispatchers(self) -> list[Dispatcher]:
        """The worker's: one for every channel, and with SMTP configured, SMTP_CONNECTIONS - 1
        more for email only, each with a connection (and a database connection) of its own.
        Transports a test passed in are not copied: it gets the one dispatcher."""
        first = self.dispatcher()
        if self._given_transports or not self.settings.smtp_url:
            return [first]
        from bot.metrics import MeasuredTransport

        extra = [
            self._dispatcher(
                {"email": MeasuredTransport(_email_transport(self.settings, self.sessions))}
            )
            for _ in range(self.settings.smtp_connections - 1)
        ]
        return [first, *extra]

    def _dispatcher(self, transports: dict[str, Transport]) -> Dispatcher:
        return Dispatcher(
            self.sessions,
            transports,
            max_attempts=self.settings.outbox_max_attempts,
            base_delay=self.settings.outbox_base_delay_seconds,
            lease_seconds=self.settings.outbox_lease_seconds,
            clock=self.clock,
        )

    def close(self) -> None:
        self.engine.dispose()


def default_transports(
    settings: Settings, sessions: sessionmaker[Session] | None = None
) -> dict[str, Transport]:
    """The console stands in for every channel that is not configured."""
    from handlers.console import ConsoleTransport

    path = Path(settings.outbox_log) if settings.outbox_log else None
    transports: dict[str, Transport] = {
        "console": ConsoleTransport(path=path, public_url=settings.public_url)
    }
    if settings.slack_bot_token and sessions is not None:
        transports["slack"] = _slack_transport(settings, sessions)
    if settings.smtp_url and sessions is not None:
        transports["email"] = _email_transport(settings, sessions)
    if sessions is not None:
        from handlers.fhir.transport import RestHookTransport

        transports["fhir"] = RestHookTransport(sessions, settings.public_url)
    return transports


def _email_transport(settings: Settings, sessions: sessionmaker[Session]) -> Transport:
    # Imported here: a process without SMTP_URL never loads the email channel.
    from handlers.email.render import EmailRenderer
    from handlers.email.smtp import SmtpTransport
    from handlers.email.urls import parse_smtp_url

    return SmtpTransport(
        parse_smtp_url(settings.smtp_url or ""),
        mail_from=settings.mail_from,
        render=EmailRenderer(sessions, settings),
    )


def _slack_transport(settings: Settings, sessions: sessionmaker[Session]) -> Transport:
    # Imported here, and built on first use: a process without Slack never loads slack_sdk.
    from handlers.slack.client import make_web_client
    from handlers.slack.render import SlackRenderer
    from handlers.slack.threads import ThreadedRenderer, ThreadedTransport
    from handlers.slack.transport import SlackTransport

    client = make_web_client(settings.slack_bot_token or "", settings.slack_api_url)
    # One thread per referral in each DM and channel (handlers/slack/threads.py).
    render = ThreadedRenderer(SlackRenderer(sessions), sessions)
    return ThreadedTransport(SlackTransport(client, render), sessions)
