"""The grid's keyset paging: the order (key, then row id, NULLs last), the rows after a cursor,
and the cursor itself (opaque to callers, refused clearly when it is not one we gave out)."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, tuple_
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.vocab import ReferralState, ResponseKind
from bot.errors import InvalidInput


def order_by_key(column: Any, id_column: Any, descending: bool, nullable: bool) -> tuple[Any, Any]:
    """The grid's order: the key then the row id, NULLs last. A key that is never NULL is
    ordered without NULLS LAST, so that PostgreSQL can walk its (key, id) index backwards."""
    if descending:
        key = column.desc().nulls_last() if nullable else column.desc()
        return key, id_column.desc()
    key = column.asc().nulls_last() if nullable else column.asc()
    return key, id_column.asc()


def after_key(
    column: Any, id_column: Any, value: Any, last_id: int, descending: bool, nullable: bool
) -> ColumnElement[bool]:
    """Keyset paging: rows after (value, id) in the sort order, NULLs last. A key that is
    never NULL compares as a row value, which the database reads as an index range."""
    if not nullable and value is not None:
        if descending:
            return tuple_(column, id_column) < tuple_(value, last_id)
        return tuple_(column, id_column) > tuple_(value, last_id)
    if value is None:
        return and_(
            column.is_(None), (id_column < last_id) if descending else (id_column > last_id)
        )
    if descending:
        return or_(column < value, and_(column == value, id_column < last_id), column.is_(None))
    return or_(column > value, and_(column == value, id_column > last_id), column.is_(None))


def encode_cursor(value: Any, last_id: int) -> str:
    if isinstance(value, datetime):
        packed: Any = {"t": value.isoformat()}
    elif isinstance(value, date):
        packed = {"d": value.isoformat()}
    elif isinstance(value, (ResponseKind, ReferralState)) or hasattr(value, "value"):
        packed = {"s": str(value.value)}
    else:
        packed = {"v": value}
    raw = json.dumps([packed, last_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        packed, last_id = json.loads(raw)
        if "t" in packed:
            return datetime.fromisoformat(packed["t"]), int(last_id)
        if "d" in packed:
            return date.fromisoformat(packed["d"]), int(last_id)
        if "s" in packed:
            return packed["s"], int(last_id)
        return packed["v"], int(last_id)
    except (ValueError, TypeError, KeyError, json.JSONDecodeError):
        raise InvalidInput(
            "That page cursor is not one I gave out.",
            field="cursor",
            hint="Start again from the first page.",
        ) from None
