"""The migrations build exactly the schema the models describe, and can be undone."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from seqtrack.platform import migrations
from seqtrack.platform.models import Base
from seqtrack.platform.registry import import_all_models
from tests.fixtures.database import fresh_postgres_database, make_settings


def _schema_differences(url: str) -> list[object]:
    import asyncio

    import_all_models()

    async def compare() -> list[object]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:

                def diff(sync_connection) -> list[object]:  # type: ignore[no-untyped-def]
                    context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
                    return list(compare_metadata(context, Base.metadata))

                return await connection.run_sync(diff)
        finally:
            await engine.dispose()

    return asyncio.run(compare())


def _tables(url: str) -> set[str]:
    import asyncio

    async def names() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(names())


def _round_trip(url: str, data_dir: Path) -> None:
    settings = make_settings(data_dir, url)
    migrations.upgrade(settings)
    assert _schema_differences(url) == []
    migrations.downgrade(settings, "base")
    assert _tables(url) <= {"alembic_version"}
    migrations.upgrade(settings)
    assert _schema_differences(url) == []
    assert "audit_entries" in _tables(url)


def test_sqlite_upgrade_downgrade_upgrade_matches_the_models(tmp_path: Path) -> None:
    _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'seqtrack.db'}", tmp_path)


@pytest.mark.postgres
def test_postgres_upgrade_downgrade_upgrade_matches_the_models(tmp_path: Path) -> None:
    for url in fresh_postgres_database(tmp_path, migrate=False):
        _round_trip(url, tmp_path)
