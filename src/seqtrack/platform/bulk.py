"""Many new rows of one table in one go, inside the caller's transaction.

For an import of a hundred thousand samples the ORM's unit of work (an object,
an identity-map entry and change tracking per row) costs more than the rows'
own writing. Here rows are plain values: on PostgreSQL they stream through
``COPY`` on the session's own connection (same transaction, so they commit or
vanish with everything else); elsewhere they go as one executemany INSERT.
Column types that convert on the way in (timestamps kept in UTC, sealed text,
JSON) convert here exactly as they would in an INSERT.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Column, TypeDecorator, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.platform.models import Base, table_of


async def insert_rows(session: AsyncSession, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (each with the same keys) into ``model``'s table; no ORM object is made."""
    if not rows:
        return
    table = table_of(model)
    bind = session.bind
    if bind is None or bind.dialect.name != "postgresql":
        await session.execute(insert(table), rows)
        return
    names = list(rows[0])
    # itemgetter of several names answers a tuple; of one, the bare value.
    read = itemgetter(*names, *names[:1]) if len(names) == 1 else itemgetter(*names)
    converting = [
        (index, convert)
        for index, name in enumerate(names)
        if (convert := _converter(table.columns[name], bind.dialect)) is not None
    ]
    records = []
    for row in rows:
        record = list(read(row))[: len(names)]
        for index, convert in converting:
            record[index] = convert(record[index])
        records.append(record)
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        # The driver opens the transaction with its first statement; COPY must not run outside it.
        await connection.exec_driver_sql("SELECT 1")
    await driver.copy_records_to_table(table.name, records=records, columns=names)


def _converter(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    column_type = column.type
    steps: list[Callable[[Any], Any]] = []
    if isinstance(column_type, TypeDecorator):
        decorator = column_type
        steps.append(lambda value: decorator.process_bind_param(value, dialect))
        column_type = decorator.impl_instance
    if isinstance(column_type, JSON):
        # asyncpg takes json as text.
        steps.append(lambda value: None if value is None else json.dumps(value))
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0]

    def chained(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return chained
