"""What the drills share: a database of their own, the statewide network, worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.runtime import Runtime  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.db import make_engine, transaction  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402

SECRET = "drill-secret-for-reply-tokens-0123456789"
MAIL_FROM = "closeloop <notify@closeloop.example.org>"
REPLY_TO = "replies@closeloop.example.org"


def server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        raise SystemExit("the drills need PostgreSQL: set TEST_DATABASE_URL (as for the tests)")
    return url


@contextmanager
def drill_database(name: str, base: str | None = None) -> Iterator[str]:
    """A fresh database `closeloop_drill_<name>_<pid>` on the server, migrated; dropped after."""
    url = make_url(Settings(database_url=base or server_url()).database_url)
    database = f"closeloop_drill_{name}_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    own = url.set(database=database).render_as_string(hide_password=False)
    engine = make_engine(own)
    upgrade(engine)
    engine.dispose()
    try:
        yield own
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def settings_for(database_url: str, **more: object) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=SECRET,
        mail_from=MAIL_FROM,
        reply_to=REPLY_TO,
        **more,  # type: ignore[arg-type]
    )


def load_statewide(runtime: Runtime, programs: int) -> None:
    """The test network and `programs` statewide programs with a gatekeeper each."""
    from bench.fanout import load_network

    load_network(runtime, programs)


def publish_statewide(runtime: Runtime) -> int:
    """Publish one statewide referral; how many outbox rows it wrote."""
    from bench.fanout import publish

    _, rows = publish(runtime)
    return rows


def pending(runtime: Runtime) -> dict[str, int]:
    with transaction(runtime.sessions) as session:
        rows = session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    return {status: count for status, count in rows}


class Worker:
    """`closeloop worker` (or another process: `role`) on its own, configured by environment."""

    def __init__(self, settings: Settings, log: Path, role: str = "worker") -> None:
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "SECRET_KEY": settings.secret_key,
            "MAIL_FROM": settings.mail_from,
            "REPLY_TO": settings.reply_to or "",
            "SMTP_URL": settings.smtp_url or "",
            "PYTHONPATH": str(ROOT),
            "TIMEZONE": settings.timezone,
        }
        if settings.slack_bot_token:
            env["SLACK_BOT_TOKEN"] = settings.slack_bot_token
            env["SLACK_API_URL"] = settings.slack_api_url or ""
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", role],
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """kill -9: no clean-up, no goodbye to the database or the relay."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


@contextmanager
def workers(settings: Settings, count: int, log: Path) -> Iterator[list[Worker]]:
    started = [Worker(settings, log) for _ in range(count)]
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()


def wait_until(condition: object, timeout: float, poll: float = 0.05) -> float | None:
    """Seconds until `condition()` is true; None if it is not within `timeout`."""
    assert callable(condition)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(poll)
    return None
