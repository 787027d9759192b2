"""Alembic environment: async engines, all domains' metadata, batch mode on SQLite."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from seqtrack.platform.migrations import GUARDED, migration_lock, refuse_unknown_revision
from seqtrack.platform.models import Base
from seqtrack.platform.registry import import_all_models

import_all_models()
target_metadata = Base.metadata
config = context.config


def _database_url() -> str:
    url = config.attributes.get("database_url")
    if not url:
        from seqtrack.settings import get_settings

        url = get_settings().database_dsn
    return str(url)


def _configure(connection: Connection) -> None:
    if not config.attributes.get(GUARDED):
        _migrate(connection)
        return
    with migration_lock(connection, _database_url()):
        # Read after the lock: the process that held it may have moved the schema on.
        refuse_unknown_revision(connection)
        _migrate(connection)


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(_database_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
