"""Backup → wipe → restore → verify, on SQLite and PostgreSQL, while the instance keeps writing."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from seqtrack.audit.models import AuditEntry
from seqtrack.events.models import EventRecord
from seqtrack.operations import backup
from seqtrack.operations.errors import BackupCorrupt, TargetNotEmpty
from seqtrack.operations.metrics import BACKUP_COMPLETED
from seqtrack.operations.service import run_backup
from seqtrack.platform.database import Database
from seqtrack.samples.models import Sample
from seqtrack.settings import Settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.database import make_settings, sqlite_copy
from tests.fixtures.identity import make_tenant
from tests.fixtures.samples import new_sample
from tests.operations.support import audit_intact, empty_instance, populate, run_cli


async def _samples_and_their_histories(settings: Settings) -> tuple[int, int, int]:
    database = Database(settings)
    try:
        async with database.snapshot_session() as session:
            samples = await session.scalar(select(func.count()).select_from(Sample))
            created = await session.scalar(
                select(func.count()).select_from(EventRecord).where(EventRecord.type == "sample.created")
            )
            audited = await session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "sample.created")
            )
    finally:
        await database.dispose()
    return int(samples or 0), int(created or 0), int(audited or 0)


async def test_a_backup_taken_while_writing_restores_into_an_empty_instance_at_one_point_in_time(
    backend: str, settings: Settings, database: Database, tmp_path: Path
) -> None:
    await populate(database, settings, samples=40)
    actor = staff_actor(await make_tenant(database))
    stop = asyncio.Event()
    written: list[int] = []
    warmed_up = asyncio.Event()

    async def keep_writing() -> None:
        while not stop.is_set():
            await new_sample(database, actor, name=f"During-{len(written)}")
            written.append(1)
            if len(written) >= 3:
                warmed_up.set()

    writer = asyncio.create_task(keep_writing())
    await warmed_up.wait()
    before = len(written)
    manifest = await run_backup(settings, database, tmp_path / "backup")
    during = len(written) - before
    stop.set()
    await writer
    assert during > 0, "the writer was not running while the backup was taken"

    with empty_instance(backend, tmp_path / "restored", like=settings) as target:
        restored = await backup.restore(target, tmp_path / "backup")
        assert restored.tables == manifest.tables
        assert await backup.count_rows(target.database_dsn) == manifest.tables
        samples, created, audited = await _samples_and_their_histories(target)
        # One moment: every sample that exists has its creation event and audit entry, and no more.
        assert samples == created == audited == manifest.tables["samples"]
        # The writes that committed after the backup's moment are not in it.
        assert samples < 40 + len(written)
        assert await audit_intact(target) == manifest.tables["audit_entries"]
        store = target.file_store
        assert sorted(p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()) == sorted(
            manifest.files
        )
        verified = await backup.verify_backup(target, tmp_path / "backup")
        assert verified.audit_entries == manifest.tables["audit_entries"]


async def test_the_backup_is_recorded_in_the_audit_trail(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    await populate(database, settings, samples=2)
    manifest = await run_backup(settings, database, tmp_path / "backup")
    async with database.read_session() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == BACKUP_COMPLETED))
    assert entry is not None
    assert entry.actor_kind == "system"
    event = await _event_of(database, entry)
    assert event["rows"] == manifest.rows
    assert event["location"] == str(tmp_path / "backup")


async def _event_of(database: Database, entry: AuditEntry) -> dict[str, object]:
    async with database.read_session() as session:
        event = await session.scalar(select(EventRecord).where(EventRecord.id == entry.event_id))
    assert event is not None
    return dict(event.data)


async def test_one_flipped_byte_in_a_stored_file_fails_verify_naming_the_file(
    settings: Settings, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await populate(database, settings, samples=2)
    manifest = await run_backup(settings, database, tmp_path / "backup")
    victim = sorted(manifest.files)[1]
    path = tmp_path / "backup" / "files" / victim
    content = bytearray(path.read_bytes())
    content[17] ^= 0x01
    path.write_bytes(bytes(content))

    with pytest.raises(BackupCorrupt) as caught:
        await backup.verify_backup(settings, tmp_path / "backup")
    assert caught.value.path == f"files/{victim}"

    result = await run_cli(settings, monkeypatch, "backup", "verify", str(tmp_path / "backup"))
    assert result.exit_code == 1
    assert f"files/{victim}" in result.output
    assert "SHA-256 does not match" in result.output


async def test_one_flipped_byte_in_the_database_dump_fails_verify_naming_it(
    settings: Settings, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await populate(database, settings, samples=2)
    manifest = await run_backup(settings, database, tmp_path / "backup")
    path = tmp_path / "backup" / manifest.database
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x80
    path.write_bytes(bytes(content))

    result = await run_cli(settings, monkeypatch, "backup", "verify", str(tmp_path / "backup"))
    assert result.exit_code == 1
    assert manifest.database in result.output


async def test_verify_catches_an_edited_audit_entry_even_with_fresh_checksums(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """Someone rewrote the dump (SQLite: editable in place) and its checksum: the audit chain gives them away."""
    settings = make_settings(tmp_path / "data", sqlite_copy(sqlite_template, tmp_path / "data"))
    database = Database(settings)
    await populate(database, settings, samples=2)
    manifest = await run_backup(settings, database, tmp_path / "backup")
    await database.dispose()

    dump = tmp_path / "backup" / manifest.database
    connection = sqlite3.connect(dump)
    connection.execute("DROP TRIGGER audit_entries_append_only_update")  # the file's owner can
    connection.execute("UPDATE audit_entries SET reason = 'edited' WHERE sequence = 2")
    connection.commit()
    connection.close()
    document = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    document["database_sha256"] = backup._sha256(dump).sha256
    (tmp_path / "backup" / "manifest.json").write_text(json.dumps(document))

    with pytest.raises(BackupCorrupt, match="audit trail broken"):
        await backup.verify_backup(settings, tmp_path / "backup")


async def test_restore_refuses_an_instance_that_holds_data_unless_forced(
    settings: Settings, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await populate(database, settings, samples=3)
    manifest = await run_backup(settings, database, tmp_path / "backup")
    actor = staff_actor(await make_tenant(database))
    await new_sample(database, actor, name="After-the-backup")
    await database.dispose()

    with pytest.raises(TargetNotEmpty, match=r"rows in \d+ tables.*3 files"):
        await backup.restore(settings, tmp_path / "backup")
    result = await run_cli(settings, monkeypatch, "restore", str(tmp_path / "backup"))
    assert result.exit_code == 3
    assert "--force" in result.output

    result = await run_cli(settings, monkeypatch, "restore", "--force", str(tmp_path / "backup"))
    assert result.exit_code == 0, result.output
    assert await backup.count_rows(settings.database_dsn) == manifest.tables
    assert await audit_intact(settings) == manifest.tables["audit_entries"]


async def test_the_cli_backs_up_verifies_and_restores(
    backend: str, settings: Settings, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await populate(database, settings, samples=3)
    result = await run_cli(settings, monkeypatch, "backup", "--to", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    assert "backup written" in result.output
    result = await run_cli(settings, monkeypatch, "backup", "verify", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    assert "audit trail intact" in result.output
    manifest = backup.read_manifest(tmp_path / "b")
    shutil.rmtree(settings.file_store)
    with empty_instance(backend, tmp_path / "new", like=settings) as target:
        result = await run_cli(target, monkeypatch, "restore", str(tmp_path / "b"))
        assert result.exit_code == 0, result.output
        assert await backup.count_rows(target.database_dsn) == manifest.tables
