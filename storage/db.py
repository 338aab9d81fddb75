"""Engines and sessions: SQLite set up for a server's life, PostgreSQL as it comes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from storage.types import utcnow

SQLITE_BUSY_TIMEOUT_MS = 10_000


def insert(session: Session, table: Any) -> postgresql.Insert | sqlite.Insert:
    """INSERT for the session's engine, with its ON CONFLICT clauses (both engines have them,
    each in its own dialect's construct)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url`. SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE.

    SQLite's default deferred transactions take the write lock only at the first write, and a
    reader that then wants to write fails at once with "database is locked" instead of waiting:
    BEGIN IMMEDIATE takes the lock up front, so concurrent requests queue on the busy timeout.

    SQLite connections are pooled: when the last connection to a WAL database closes, SQLite
    checkpoints the log into the database and deletes it, with an fsync, so a connection per
    transaction made every commit of a quiet process cost that (13 ms a commit in the email
    benchmark, docs/benchmarks.md).
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            poolclass=QueuePool if ":memory:" not in url else None,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


Clock = Callable[[], datetime]


def make_session_factory(
    engine: Engine, *, settings: Any = None, clock: Clock = utcnow
) -> sessionmaker[Session]:
    """Sessions that carry the settings and the clock, so use cases need no globals."""
    return sessionmaker(engine, expire_on_commit=False, info={"settings": settings, "clock": clock})


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One use case, one transaction: commit on success, roll back on any error."""
    with factory.begin() as session:
        yield session


def database_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # any driver error means "not reachable" to a health check
        return False


def database_away(error: BaseException) -> bool:
    """True when `error` means the database could not be reached (refused, restarting, cut
    off), as opposed to a query the database refused."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


# Rows this session's transaction has locked already (`locked`): identity keys.
_LOCKED = "locked_rows"


def lock_row(session: Session, row: object) -> None:
    """Re-read `row` under a row lock (SELECT ... FOR UPDATE), so that a concurrent change
    waits for ours or is seen by it.

    Not read again when it is current and locked already: on SQLite, whose transactions all
    begin with BEGIN IMMEDIATE, taking the database's only write lock before their first read
    (and a session lives for one transaction, `transaction`); elsewhere, when this transaction
    locked it before (`locked`). One statement less per email reply (docs/benchmarks.md)."""
    state = inspect(row)
    if not state.expired_attributes and (
        session.get_bind().dialect.name == "sqlite"
        or state.identity_key in session.info.get(_LOCKED, ())
    ):
        return
    session.refresh(row, with_for_update=True)


def locked(session: Session, rows: Iterable[object]) -> None:
    """Note `rows`, just read with FOR UPDATE outside any savepoint, as locked until the end
    of this session's transaction (a savepoint rolled back would release its own locks)."""
    session.info.setdefault(_LOCKED, set()).update(inspect(row).identity_key for row in rows)
