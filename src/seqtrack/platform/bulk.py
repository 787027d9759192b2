"""Many new rows of one table in one go, inside the caller's transaction.

For an import of a hundred thousand samples the ORM's unit of work (an object,
an identity-map entry and change tracking per row) costs more than the rows'
own writing. Here rows are plain values: on PostgreSQL they stream through
``COPY`` on the session's own connection (same transaction, so they commit or
vanish with everything else); on SQLite they go to the driver as one
executemany INSERT. Column types that convert on the way in (timestamps kept
in UTC, sealed text, JSON) convert here exactly as they would in an INSERT;
JSON already encoded (:class:`~seqtrack.platform.jsontext.JsonText`) is sent
as its text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Column, Table, TypeDecorator, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.platform.jsontext import JsonText
from seqtrack.platform.models import Base, table_of

Convert = Callable[[Any], Any]


async def insert_rows(session: AsyncSession, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (each with the same keys) into ``model``'s table; no ORM object is made."""
    if not rows:
        return
    names = tuple(rows[0])
    if len(names) == 1:
        name = names[0]
        await insert_records(session, model, names, [(row[name],) for row in rows])
        return
    read = itemgetter(*names)
    await insert_records(session, model, names, [read(row) for row in rows])


async def insert_records(
    session: AsyncSession, model: type[Base], names: Sequence[str], records: Sequence[Sequence[Any]]
) -> None:
    """:func:`insert_rows` for rows already laid out as ``names``, one value each, in that order."""
    if not records:
        return
    table = table_of(model)
    bind = session.bind
    dialect = bind.dialect if bind is not None else None
    names = tuple(names)
    if dialect is None or (dialect.name != "postgresql" and dialect.paramstyle != "qmark"):
        await session.execute(insert(table), [dict(zip(names, record, strict=True)) for record in records])
        return
    postgres = dialect.name == "postgresql"
    converting = _converters(table, names, dialect, postgres)
    if converting:
        records = [_record(record, converting) for record in records]
    connection = await session.connection()
    if not postgres:
        await connection.exec_driver_sql(_insert_statement(table, names, dialect), records)
        return
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        # The driver opens the transaction with its first statement; COPY must not run outside it.
        await connection.exec_driver_sql("SELECT 1")
    await driver.copy_records_to_table(table.name, records=records, columns=names)


def _record(values: Sequence[Any], converting: Sequence[tuple[int, Convert]]) -> tuple[Any, ...]:
    record = list(values)
    for index, convert in converting:
        value = record[index]
        if value is not None:
            record[index] = convert(value)
    return tuple(record)


@lru_cache(maxsize=64)
def _converters(
    table: Table, names: tuple[str, ...], dialect: Dialect, postgres: bool
) -> tuple[tuple[int, Convert], ...]:
    """Which of a row's values convert on the way in, and how."""
    converter = _copy_converter if postgres else _insert_converter
    return tuple(
        (index, convert)
        for index, name in enumerate(names)
        if (convert := converter(table.columns[name], dialect)) is not None
    )


@lru_cache(maxsize=64)
def _insert_statement(table: Table, names: tuple[str, ...], dialect: Dialect) -> str:
    quote = dialect.identifier_preparer
    columns = ", ".join(quote.quote(name) for name in names)
    return f"INSERT INTO {quote.format_table(table)} ({columns}) VALUES ({', '.join('?' * len(names))})"


def _copy_converter(column: Column[Any], dialect: Dialect) -> Convert | None:
    """COPY takes Python values as the driver does; only decorated types and JSON (as text) need a hand."""
    column_type = column.type
    steps: list[Convert] = []
    if isinstance(column_type, TypeDecorator):
        decorator = column_type
        # A decorator may only change what is read (sealed JSON opens on the way out).
        if type(decorator).process_bind_param is not TypeDecorator.process_bind_param:
            steps.append(lambda value: decorator.process_bind_param(value, dialect))
        column_type = decorator.impl_instance
    if isinstance(column_type, JSON):
        # asyncpg takes json as text.
        steps.append(_json_text)
    return _chain(steps)


def _insert_converter(column: Column[Any], dialect: Dialect) -> Convert | None:
    """What SQLAlchemy's own INSERT would do to the value (the dialect's bind processing)."""
    process: Convert | None = column.type._cached_bind_processor(dialect)
    if process is None or not isinstance(column.type, JSON):
        return process
    encode = process

    def encoded(value: Any) -> Any:
        return value if type(value) is JsonText else encode(value)

    return encoded


def _json_text(value: Any) -> str:
    return value if type(value) is JsonText else json.dumps(value)


def _chain(steps: Sequence[Convert]) -> Convert | None:
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0]

    def chained(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return chained
