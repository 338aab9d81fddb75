"""Shared fixtures: a real database on each engine, a clock the test controls, a small network."""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, create_engine, func, make_url, select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from bot.actors import actor_by_email
from bot.domain.permissions import Actor
from bot.services.directory import import_directory, parse_directory
from bot.settings import Settings
from storage.db import make_engine, make_session_factory, transaction
from storage.models import Base
from tests.network import small_network

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")


def need_server(what: str, how: str) -> None:
    """Locally a missing server skips the test with how to get it; in CI it fails."""
    message = f"{what} is not available: {how}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


class Clock:
    """The time the code under test sees; tests move it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """`configure_logging` (the CLI, the web app) sets the root logger's level and handlers for
    the whole process; put them back so one test's logging setup never leaks into the next."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


@pytest.fixture
def clock() -> Clock:
    # A Monday morning in Missouri, so "business days" tests start from a plain week.
    return Clock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))


def _engine_params() -> list[Any]:
    """SQLite always; PostgreSQL when TEST_DATABASE_URL names it (and always in CI, where its
    absence then fails the tests instead of quietly testing one engine)."""
    params: list[Any] = ["sqlite"]
    if POSTGRES_URL or IN_CI:
        params.append(pytest.param("postgresql", marks=pytest.mark.postgres))
    return params


_pg_engine: Engine | None = None


_pg_url: str | None = None


def postgres_url() -> str:
    """A database of this test run's own on the TEST_DATABASE_URL server, created on first use
    and dropped at exit: parallel runs (developers, CI) never truncate each other's tables."""
    global _pg_url
    if not POSTGRES_URL:
        need_server(
            "PostgreSQL (TEST_DATABASE_URL)",
            "set TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test",
        )
    if _pg_url is None:
        base = make_url(Settings(database_url=POSTGRES_URL or "").database_url)
        name = f"closeloop_test_{os.getpid()}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        atexit.register(_drop_database, base.render_as_string(hide_password=False), name)
        _pg_url = base.set(database=name).render_as_string(hide_password=False)
    return _pg_url


def _drop_database(base: str, name: str) -> None:
    if _pg_engine is not None:
        _pg_engine.dispose()
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _postgres_engine() -> Engine:
    global _pg_engine
    if _pg_engine is None:
        _pg_engine = make_engine(postgres_url())
        Base.metadata.create_all(_pg_engine)
    return _pg_engine


def _truncate(engine: Engine) -> None:
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=_engine_params())
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A schema-fresh database: a new SQLite file, or the PostgreSQL test database emptied."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
        Base.metadata.create_all(eng)
        yield eng
        eng.dispose()
    else:
        eng = _postgres_engine()
        _truncate(eng)
        yield eng


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return Settings(database_url=engine.url.render_as_string(hide_password=False))


@pytest.fixture
def sessions(engine: Engine, settings: Settings, clock: Clock) -> sessionmaker[Session]:
    return make_session_factory(engine, settings=settings, clock=clock)


@pytest.fixture
def network(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The small test network loaded (tests/network.py): returns the session factory."""
    with transaction(sessions) as session:
        directory = parse_directory(small_network(), source="small_network")
        import_directory(session, directory=directory, source="small_network")
    return sessions


@pytest.fixture
def as_staff(network: sessionmaker[Session]) -> Callable[[Session, str], Actor]:
    def resolve(session: Session, email: str) -> Actor:
        return actor_by_email(session, email)

    return resolve


def row_counts(session: Session) -> dict[str, int]:
    """How many rows each table has: 'nothing changed' is asserted on this."""
    meta: MetaData = Base.metadata
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in meta.sorted_tables
    }
