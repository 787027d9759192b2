"""An instance to back up: real samples, users and stored files; and an empty one to restore into."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from typer.testing import CliRunner, Result

from seqtrack.audit import service as audit_service
from seqtrack.cli import app as cli
from seqtrack.platform.database import Database
from seqtrack.settings import Settings, get_settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.database import fresh_postgres_database, make_settings
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.samples import new_sample


async def populate(database: Database, settings: Settings, samples: int = 12) -> None:
    tenant_id = await make_tenant(database)
    await make_member(database, tenant_id)
    actor = staff_actor(tenant_id)
    for number in range(samples):
        await new_sample(database, actor, name=f"Before-{number}")
    store = settings.file_store
    for number in range(3):
        content = f"submission file {number}\n".encode() * 50
        digest = hashlib.sha256(content).hexdigest()
        path = store / digest[:2] / digest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


@contextmanager
def empty_instance(backend: str, directory: Path, like: Settings) -> Iterator[Settings]:
    """A new instance with nothing in it: no database file / an empty PostgreSQL database, no files.

    It has the secret key of the installation ``like``: the audit chain a backup carries
    verifies only under the key it was sealed with.
    """
    assert like.secret_key is not None
    if backend == "sqlite":
        yield make_settings(directory, secret_key=like.secret_key)
        return
    for url in fresh_postgres_database(directory, migrate=False):
        yield make_settings(directory, url, secret_key=like.secret_key)


async def audit_intact(settings: Settings) -> int:
    database = Database(settings)
    try:
        async with database.snapshot_session() as session:
            verification = await audit_service.verify(session)
    finally:
        await database.dispose()
    assert verification.broken is None, verification.broken
    return verification.entries


async def run_cli(settings: Settings, monkeypatch: object, *args: str) -> Result:
    """The real command, configured through the environment as an operator would."""
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("SEQTRACK_DATABASE_URL", settings.database_dsn)
    monkeypatch.setenv("SEQTRACK_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SEQTRACK_PASSWORD_HASH_MEMORY_KIB", "1024")
    monkeypatch.setenv("SEQTRACK_SECRET_KEY", settings.signing_key())
    get_settings.cache_clear()
    try:
        # The command runs its own event loop, so it gets a thread of its own.
        return await asyncio.to_thread(CliRunner().invoke, cli, list(args))
    finally:
        get_settings.cache_clear()
