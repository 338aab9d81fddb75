"""Thousands of rows into one table in one statement: how a statewide publish writes its
recipients and outbox rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from storage.db import insert
from storage.models import Base


def insert_rows(
    session: Session, model: type[Base], rows: Sequence[dict[str, Any]], *, unless_key: str = ""
) -> None:
    """INSERT these rows (each with the same columns) into the model's table, skipping rows
    whose `unless_key` column clashes with an existing row (ON CONFLICT DO NOTHING).

    On PostgreSQL, one INSERT ... SELECT FROM unnest() with one array per column. psycopg's
    executemany sends one INSERT per row (3,000 for a statewide referral: the server ran each
    through its executor, 0.3-0.4 s per table), and SQLAlchemy's "insertmanyvalues" (taken only
    with RETURNING) spent twice the CPU building and parsing 11,000-parameter statements
    (docs/benchmarks.md). Elsewhere (SQLite), the driver's executemany.
    """
    if not rows:
        return
    table = cast(Table, model.__table__)
    if any(row.keys() != rows[0].keys() for row in rows):
        # One array per column of the first row: a row with other columns would lose values.
        raise ValueError(f"insert_rows: rows for {table.name} differ in their columns")
    defaults = _defaults_left_out(table, rows[0])
    rows = [{**row, **defaults} for row in rows] if defaults else rows
    if session.get_bind().dialect.name != "postgresql":
        statement = insert(session, table)
        if unless_key:
            statement = statement.on_conflict_do_nothing(index_elements=[unless_key])
        session.connection().execute(statement, rows)
        return
    dialect = session.get_bind().dialect
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    arrays = []
    for column in columns:
        values = [row[column.name] for row in rows]
        if isinstance(column.type, JSON):
            # The text SQLAlchemy's JSON type would send for each value (a `json` column
            # keeps the text as written).
            values = [None if v is None else json.dumps(v) for v in values]
        arrays.append(values)
    casts = ", ".join(f"CAST(%b AS {column.type.compile(dialect=dialect)}[])" for column in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({casts})" + (
        f" ON CONFLICT ({unless_key}) DO NOTHING" if unless_key else ""
    )
    session.connection().exec_driver_sql(sql, tuple(arrays))


def _defaults_left_out(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """The table's scalar column defaults for the columns the row leaves out: what SQLAlchemy's
    INSERT would add, and raw SQL does not."""
    return {
        column.name: cast(ScalarElementColumnDefault, column.default).arg
        for column in table.c
        if column.name not in row and column.default is not None and column.default.is_scalar
    }
