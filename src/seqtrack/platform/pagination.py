"""Keyset pagination: an opaque cursor holding the last row's sort value and id.

Offset paging and a ``COUNT(*)`` per page slow down as a table grows; a keyset
page costs the same on page 1 and page 10,000 when an index covers the sort.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from seqtrack.platform.errors import InvalidInput

T = TypeVar("T")
Row = TypeVar("Row")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class SortKey:
    """One orderable column; ``parse`` turns a cursor's JSON value back into the column's type."""

    column: InstrumentedAttribute[Any] | ColumnElement[Any]
    parse: Callable[[Any], Any]


def parse_datetime(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def parse_int(value: Any) -> int:
    return int(value)


def encode_cursor(value: Any, row_id: uuid.UUID) -> str:
    if isinstance(value, datetime | date):
        value = value.isoformat()
    raw = json.dumps([value, str(row_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return value, uuid.UUID(row_id)
    except (ValueError, TypeError, AttributeError, binascii.Error) as exc:
        raise InvalidInput(
            "The cursor is not one this server handed out.",
            errors=[{"field": "cursor", "message": "malformed cursor"}],
        ) from exc


def apply_keyset(
    query: Select[Any],
    key: SortKey,
    id_column: InstrumentedAttribute[uuid.UUID] | ColumnElement[uuid.UUID],
    *,
    descending: bool,
    cursor: str | None,
    limit: int,
) -> Select[Any]:
    """Order ``query`` by (key, id) and start after ``cursor``; fetches one extra row to know if more follow."""
    if cursor is not None:
        raw_value, last_id = decode_cursor(cursor)
        try:
            last_value = key.parse(raw_value)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(
                "The cursor belongs to another sort order.",
                errors=[{"field": "cursor", "message": "cursor does not match sort"}],
            ) from exc
        if descending:
            query = query.where(or_(key.column < last_value, and_(key.column == last_value, id_column < last_id)))
        else:
            query = query.where(or_(key.column > last_value, and_(key.column == last_value, id_column > last_id)))
    if descending:
        query = query.order_by(key.column.desc(), id_column.desc())
    else:
        query = query.order_by(key.column.asc(), id_column.asc())
    return query.limit(limit + 1)


def split_page(
    rows: Sequence[Row], limit: int, cursor_of: Callable[[Row], tuple[Any, uuid.UUID]]
) -> tuple[list[Row], str | None]:
    """The page's rows and the cursor for the next page (None on the last)."""
    items = list(rows[:limit])
    if len(rows) <= limit or not items:
        return items, None
    value, row_id = cursor_of(items[-1])
    return items, encode_cursor(value, row_id)
