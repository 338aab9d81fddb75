"""Outbox rows in SQL: a claim, the due filter, its fence, a row as a notification, a sent mark."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import errors, pq
from sqlalchemy import Connection, Engine, bindparam, or_, text, update
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Notification
from storage.db import transaction
from storage.models import OutboxMessage


@dataclass
class Claim:
    """A batch this dispatcher holds: the rows, the token their final writes match on, and how
    long the rows are surely still ours (the lease, less a margin for other machines' clocks)."""

    token: str
    notes: list[Notification]
    valid_until: datetime
    owned: set[int] = field(default_factory=set)


NOTE_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.key,
    OutboxMessage.channel,
    OutboxMessage.kind,
    OutboxMessage.address,
    OutboxMessage.staff_id,
    OutboxMessage.referral_id,
    OutboxMessage.payload,
    OutboxMessage.attempts,
    OutboxMessage.created_at,
)


# Built once: it is executed for every message sent, and a statement object SQLAlchemy has
# seen before skips compilation.
MARK_SENT = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id == bindparam("row_id"),
        OutboxMessage.claimed_by == bindparam("token"),
        OutboxMessage.status == "pending",
    )
    .values(
        status="sent",
        sent_at=bindparam("sent_at"),
        attempts=OutboxMessage.attempts + 1,
        leased_until=None,
        claimed_by=None,
        waiting_on=None,
        external_ref=bindparam("external_ref"),
        last_error=None,
    )
)


def note_from_row(row: Any) -> Notification:
    return Notification(
        id=row.id,
        key=row.key,
        channel=row.channel,
        kind=row.kind,
        address=row.address,
        staff_id=row.staff_id,
        referral_id=row.referral_id,
        payload=dict(row.payload),
        attempts=row.attempts,
        created_at=row.created_at,
    )


def due(moment: datetime) -> Any:
    return (
        (OutboxMessage.status == "pending")
        & (OutboxMessage.next_attempt_at <= moment)
        & or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until < moment)
    )


def fence(note: Notification, claim: Claim) -> Sequence[Any]:
    """The final write of a row applies only while this claim still holds it."""
    return (
        OutboxMessage.id == note.id,
        OutboxMessage.claimed_by == claim.token,
        OutboxMessage.status == "pending",
    )


def rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class DriverStatement:
    """A statement compiled once for PostgreSQL, run as a prepared statement on libpq's connection.

    SQLAlchemy's execution path (execution context, result object, events) cost about twice the
    driver's own CPU for the one-row mark sent with every message, and psycopg's cursor (query
    conversion, adaptation, its wait loop taking the GIL back at every turn) as much again while
    two dispatcher threads share the interpreter. The SQL, its bound literals and its types' bind
    processing (UTC datetimes) are SQLAlchemy's, worked out once here; each row's values go to
    `PQexecPrepared` as text, which waits for the server without holding the GIL."""

    def __init__(self, statement: Any, engine: Engine) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = compiled.string
        given = {bind.key: None for bind in compiled.binds.values() if bind.required}
        self.defaults = compiled.construct_params(given)
        self.processors = {
            name: processor
            for bind, name in compiled.bind_names.items()
            if name in self.defaults
            and (processor := bind.type.bind_processor(engine.dialect)) is not None
        }
        # The same SQL with libpq's numbered placeholders, and the names in their order.
        self.order: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.order:
                self.order.append(name)
            return f"${self.order.index(name) + 1}"

        self.numbered = _PYFORMAT.sub(number, self.sql).replace("%%", "%").encode()
        self.name = f"closeloop_{hashlib.sha1(self.numbered).hexdigest()[:16]}".encode()

    def parameters(self, given: dict[str, Any]) -> dict[str, Any]:
        values = {**self.defaults, **given}
        for name, processor in self.processors.items():
            values[name] = processor(values[name])
        return values

    def as_text(self, given: dict[str, Any]) -> list[bytes | None] | None:
        """The values in placeholder order as PostgreSQL's text input; None when one is of a
        type this does not write (the cursor adapts it instead)."""
        values = self.parameters(given)
        out: list[bytes | None] = []
        for name in self.order:
            value = values[name]
            kind = type(value)
            if value is None:
                out.append(None)
            elif kind is str:
                out.append(value.encode())
            elif kind is int:
                out.append(str(value).encode())
            elif kind is datetime and value.tzinfo is not None:
                out.append(value.isoformat().encode())
            else:
                return None
        return out


_PYFORMAT = re.compile(r"%\((\w+)\)s")


class RowWriter:
    """Marks rows sent, one short write each, right after each send.

    On PostgreSQL one connection is kept in autocommit with `synchronous_commit = off`: the
    write is one round trip, and it is on the server once it answers, so a dispatcher killed
    after it still never resends that row (only a crash of the database server itself could
    lose the last fraction of a second of marks, and those rows would be sent again: the outbox
    stays at-least-once). SQLite writes each mark in its own transaction, as everywhere else.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._connection: Connection | None = None
        self._cursor: Any = None
        self._compiled: dict[Any, DriverStatement] = {}
        self._prepared: set[bytes] = set()

    def execute(self, statement: Any, parameters: dict[str, Any]) -> bool:
        engine = self._engine()
        if engine.dialect.name != "postgresql":
            with transaction(self._sessions) as session:
                return rowcount(session.connection().execute(statement, parameters)) > 0
        compiled = self._compiled.get(statement)
        if compiled is None:  # the writer's statements are module constants: a few entries
            compiled = self._compiled[statement] = DriverStatement(statement, engine)
        try:
            cursor = self._cursor or self._connect(engine)
            values = compiled.as_text(parameters)
            if values is None:
                cursor.execute(compiled.sql, compiled.parameters(parameters))
                return rowcount(cursor) > 0
            return self._run_prepared(cursor.connection.pgconn, compiled, values) > 0
        except Exception:
            self.reset()
            raise

    def _run_prepared(self, pgconn: Any, compiled: DriverStatement, values: list[Any]) -> int:
        if compiled.name not in self._prepared:
            _checked(pgconn.prepare(compiled.name, compiled.numbered))
            self._prepared.add(compiled.name)
        result = _checked(pgconn.exec_prepared(compiled.name, values))
        return int(result.command_tuples or 0)

    def _connect(self, engine: Engine) -> Any:
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        # Out of the pool for good (closed, not handed back): its session keeps
        # `synchronous_commit = off` and the prepared statement, which no other user of the
        # pool may inherit.
        connection.detach()
        self._connection = connection
        connection.execute(text("SET synchronous_commit TO off"))
        self._cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        self._prepared = set()
        return self._cursor

    def reset(self) -> None:
        self._cursor = None
        self._prepared = set()
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken
                connection.invalidate()

    def _engine(self) -> Engine:
        bind = self._sessions.kw["bind"]
        assert isinstance(bind, Engine)
        return bind


def _checked(result: Any) -> Any:
    """libpq's result, or psycopg's exception for the error it carries."""
    if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        raise errors.error_from_result(result, encoding="utf-8")
    return result
