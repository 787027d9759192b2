"""A backup taken at each domain's first schema restores into an empty instance and upgrades to head.

The old schemas are reached the way an old installation has them: data written
through today's services, then the schema migrated down to that revision (each
downgrade keeps the rows of the tables it leaves). New domains join the list on
their own: the revisions come from the migration files' ``create_table`` calls.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from pathlib import Path

import pytest

from seqtrack.operations import backup
from seqtrack.platform import migrations
from seqtrack.platform.database import Database
from seqtrack.platform.models import Base
from seqtrack.platform.registry import import_all_models
from seqtrack.settings import Settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.database import fresh_postgres_database, make_settings, off_loop, sqlite_copy
from tests.fixtures.identity import make_tenant
from tests.fixtures.samples import new_sample
from tests.operations.support import audit_intact, empty_instance, populate

# Among the slowest tests of the suite: run first, so the suite does not end waiting on them.
pytestmark = pytest.mark.slow

CREATES_TABLE = re.compile(r"create_table\(\s*\"(\w+)\"")


def first_migration_of_each_domain() -> dict[str, str]:
    """Domain package → the revision that created its first table."""
    import_all_models()
    domain_of = {
        mapper.local_table.name: mapper.class_.__module__.split(".")[1]
        for mapper in Base.registry.mappers
        if mapper.local_table is not None and hasattr(mapper.local_table, "name")
    }
    firsts: dict[str, str] = {}
    for script in sorted((migrations.MIGRATIONS_DIR / "versions").glob("*.py")):
        revision = re.search(r'^revision: str = "(\w+)"', script.read_text(), re.MULTILINE)
        assert revision is not None, script
        for table in CREATES_TABLE.findall(script.read_text()):
            domain = domain_of.get(table)
            if domain is not None:
                firsts.setdefault(domain, revision.group(1))
    return firsts


FIRSTS = first_migration_of_each_domain()
REVISIONS = sorted(set(FIRSTS.values()))


def test_every_domain_with_tables_has_a_first_migration() -> None:
    assert {"audit", "events", "identity", "samples", "jobs"} <= set(FIRSTS)


def _source(backend: str, directory: Path, sqlite_template: Path) -> tuple[Settings, Generator[str] | None]:
    if backend == "sqlite":
        return make_settings(directory, sqlite_copy(sqlite_template, directory)), None
    databases = fresh_postgres_database(directory)
    return make_settings(directory, next(databases)), databases


@pytest.mark.parametrize("revision", REVISIONS)
async def test_an_old_schema_backup_restores_and_upgrades_to_head(
    backend: str, revision: str, tmp_path: Path, sqlite_template: Path
) -> None:
    source, databases = _source(backend, tmp_path / "source", sqlite_template)
    try:
        database = Database(source)
        await populate(database, source, samples=5)
        await database.dispose()
        off_loop(migrations.downgrade, source, revision)
        at_old_schema = await backup.count_rows(source.database_dsn)
        assert at_old_schema["audit_entries"] > 0

        manifest = await backup.take_backup(source, tmp_path / "backup")
        assert manifest.schema_revision == revision
        assert manifest.tables == at_old_schema

        with empty_instance(backend, tmp_path / "target", like=source) as target:
            await backup.restore(target, tmp_path / "backup")
            off_loop(migrations.upgrade, target)
            upgraded = await backup.count_rows(target.database_dsn)
            assert upgraded["alembic_version"] == 1
            for table, rows in at_old_schema.items():
                if table != "alembic_version":
                    assert upgraded[table] == rows, f"{table} lost rows in the upgrade from {revision}"
            entries = await audit_intact(target)
            # Today's code writes to the upgraded copy and the chain still holds.
            database = Database(target)
            try:
                await new_sample(database, staff_actor(await make_tenant(database)), name="After-upgrade")
            finally:
                await database.dispose()
            assert await audit_intact(target) > entries
    finally:
        if databases is not None:
            databases.close()  # drops the source database
