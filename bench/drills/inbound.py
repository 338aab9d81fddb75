"""What the inbound drills (4, 9) share: a database, Dovecot, and the worker's two threads."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from bot.runtime import Runtime
from bot.settings import Settings
from handlers.email.inbox import InboxListener
from handlers.email.listener import inbox_listener
from storage.migrate import upgrade
from storage.models import AuditEvent, InboundEmail, OutboxMessage

SECRET = "drill-secret-for-reply-tokens-0123456789"
MAIL_FROM = "closeloop <notify@closeloop.example.org>"
REPLY_TO = "replies@closeloop.example.org"
# A PostgreSQL server to run on (a database of the drill's own is created and dropped);
# SQLite in a temporary file otherwise. The tests' variable, as `make drills` says.
DATABASE_ENV = "TEST_DATABASE_URL"


@contextmanager
def database(workdir: Path) -> Iterator[str]:
    """A migrated, empty database for one drill: its URL."""
    server = os.environ.get(DATABASE_ENV)
    if not server:
        url = f"sqlite:///{workdir / 'drill.db'}"
        upgrade_url(url)
        yield url
        return
    base = make_url(Settings(database_url=server, secret_key=SECRET).database_url)
    name = f"closeloop_drill_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_url(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def upgrade_url(url: str) -> None:
    from storage.db import make_engine

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


@contextmanager
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="closeloop-drill-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def settings_for(url: str, imap_url: str, outbox_log: Path) -> Settings:
    """Email in by IMAP; what the worker sends is written to a file (the console channel)."""
    return Settings(
        database_url=url,
        imap_url=imap_url,
        mail_from=MAIL_FROM,
        reply_to=REPLY_TO,
        secret_key=SECRET,
        outbox_log=str(outbox_log),
    )


@dataclass
class Worker:
    """The worker's threads as `bot.processes.start_worker` runs them, with the listener kept
    so that the drill can see when it is in IDLE. Faster reconnection than the defaults, so a
    drill's outage of seconds is not followed by a minute of backoff."""

    runtime: Runtime
    listener: InboxListener
    stop: threading.Event
    threads: list[threading.Thread]

    @classmethod
    def start(cls, runtime: Runtime, **listener_options: Any) -> Worker:
        dispatcher = runtime.dispatcher()
        listener = inbox_listener(runtime.sessions, runtime.settings, wake=dispatcher.wake)
        for name, value in listener_options.items():
            setattr(listener, name, value)
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=dispatcher.run_forever, args=(stop,), name="outbox", daemon=True
            ),
            threading.Thread(target=listener.run_forever, args=(stop,), name="inbox", daemon=True),
        ]
        for thread in threads:
            thread.start()
        return cls(runtime, listener, stop, threads)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self.runtime.close()


class Ledger:
    """Reads the drill's database without the worker's engine (no write lock taken)."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, poolclass=NullPool)

    def scalar(self, query: Any) -> int:
        with self.engine.connect() as connection:
            return int(connection.scalar(query) or 0)

    def recorded(self) -> int:
        return self.scalar(select(func.count()).select_from(InboundEmail))

    def reasons(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(InboundEmail.reason, func.count()).group_by(InboundEmail.reason)
            ).all()
        return {reason: count for reason, count in rows}

    def audited(self, channel: str = "email") -> dict[str, int]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(AuditEvent.action, func.count())
                .where(AuditEvent.channel == channel)
                .group_by(AuditEvent.action)
            ).all()
        return {action: count for action, count in rows}

    def outbox(self, *kinds: str) -> int:
        return self.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind.in_(kinds))
        )

    def close(self) -> None:
        self.engine.dispose()


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
