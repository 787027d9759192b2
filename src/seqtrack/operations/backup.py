"""Backups: a consistent copy of the database and the file store, a manifest, verify and restore.

A backup is a directory::

    manifest.json         version, schema revision, rows per table, SHA-256 of every file
    database.sqlite3      SQLite's online backup (one read transaction: one point in time)
    database.pgdump       or pg_dump's custom format, taken in an exported snapshot
    files/...             the file store, copied after the database

The row counts are read in the same snapshot as the dump, so a restored copy
must show exactly them even when the api was writing throughout. The file store
is copied after the database: stored files are content-addressed and written
before any row names them, so every file the database refers to is in the copy.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import asyncpg
from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy.engine import URL, make_url

from seqtrack import __version__
from seqtrack.operations.errors import BackupCorrupt, BackupError, TargetNotEmpty, ToolMissing
from seqtrack.platform.models import utcnow
from seqtrack.settings import Settings

if TYPE_CHECKING:
    from seqtrack.audit.service import Verification

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
SQLITE_DUMP = "database.sqlite3"
POSTGRES_DUMP = "database.pgdump"
FILES_DIR = "files"
_CHUNK = 1 << 20
BACKUP_NAME = re.compile(r"^seqtrack-(\d{8}T\d{6}Z)$")
Engine = Literal["sqlite", "postgresql"]


class FileEntry(BaseModel):
    sha256: str
    bytes: int


class Manifest(BaseModel):
    format: int
    seqtrack_version: str
    created_at: datetime
    engine: Engine
    schema_revision: str | None
    database: str
    database_sha256: str
    tables: dict[str, int]
    files: dict[str, FileEntry]

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    @property
    def size_bytes(self) -> int:
        return sum(entry.bytes for entry in self.files.values())


@dataclass(frozen=True)
class Verified:
    manifest: Manifest
    audit_entries: int
    audit_tenants: int


def backup_name(moment: datetime) -> str:
    return f"seqtrack-{moment:%Y%m%dT%H%M%SZ}"


# ---------------------------------------------------------------- taking a backup


async def take_backup(settings: Settings, destination: Path) -> Manifest:
    """Write a complete backup to ``destination``; it appears only once complete."""
    staging = await asyncio.to_thread(_prepare_staging, destination)
    try:
        engine: Engine
        if settings.is_sqlite:
            engine, dump = "sqlite", SQLITE_DUMP
            revision, tables = await asyncio.to_thread(_backup_sqlite, sqlite_file(settings), staging / dump)
        else:
            engine, dump = "postgresql", POSTGRES_DUMP
            revision, tables = await _backup_postgres(settings.database_dsn, staging / dump)
        files = await asyncio.to_thread(_copy_tree, settings.file_store, staging / FILES_DIR)
        manifest = Manifest(
            format=MANIFEST_FORMAT,
            seqtrack_version=__version__,
            created_at=utcnow(),
            engine=engine,
            schema_revision=revision,
            database=dump,
            database_sha256=(await asyncio.to_thread(_sha256, staging / dump)).sha256,
            tables=tables,
            files=files,
        )
        await asyncio.to_thread(_complete, staging, destination, manifest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _prepare_staging(destination: Path) -> Path:
    if destination.exists() and any(destination.iterdir()):
        raise BackupError(f"{destination} exists and is not empty; choose a new directory")
    staging = destination.with_name(f".{destination.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _complete(staging: Path, destination: Path, manifest: Manifest) -> None:
    # The manifest is written last and the directory renamed into place: a backup
    # cut short (a crash, a full disk) never looks like a complete one.
    (staging / MANIFEST_NAME).write_text(manifest.model_dump_json(indent=2) + "\n")
    if destination.exists():
        destination.rmdir()
    staging.rename(destination)


def sqlite_file(settings: Settings) -> Path:
    database = make_url(settings.database_dsn).database
    if not database:
        raise BackupError("the SQLite database URL names no file")
    return Path(database)


def _backup_sqlite(source_path: Path, target: Path) -> tuple[str | None, dict[str, int]]:
    if not source_path.exists():
        raise BackupError(f"no database at {source_path}; run `seqtrack db upgrade` first")
    source = sqlite3.connect(source_path, timeout=30)
    copy = sqlite3.connect(target)
    try:
        # pages=-1 copies everything in one step, inside one read transaction: the copy is the
        # database at one moment, while writers carry on in the write-ahead log.
        source.backup(copy, pages=-1)
        # A single self-contained file: no -wal beside it to forget.
        copy.execute("PRAGMA journal_mode=DELETE")
        return _sqlite_facts(copy)
    finally:
        copy.close()
        source.close()


def _sqlite_facts(connection: sqlite3.Connection) -> tuple[str | None, dict[str, int]]:
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    tables = {name: int(connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]) for name in names}
    revision = None
    if "alembic_version" in tables:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    return revision, tables


async def _backup_postgres(dsn: str, target: Path) -> tuple[str | None, dict[str, int]]:
    url = make_url(dsn)
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        # The counts and pg_dump read the same exported snapshot: the manifest describes the dump exactly.
        transaction = connection.transaction(isolation="repeatable_read", readonly=True)
        await transaction.start()
        try:
            snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
            revision, tables = await _postgres_facts(connection)
            await _run_tool(
                "pg_dump",
                ["--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}", f"--file={target}"],
                url,
            )
        finally:
            await transaction.rollback()
    finally:
        await connection.close()
    return revision, tables


async def _postgres_facts(connection: asyncpg.Connection) -> tuple[str | None, dict[str, int]]:
    names = [
        row["tablename"]
        for row in await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
    ]
    tables = {name: int(await connection.fetchval(f'SELECT count(*) FROM "{name}"')) for name in names}
    revision = None
    if "alembic_version" in tables:
        revision = await connection.fetchval("SELECT version_num FROM alembic_version")
    return revision, tables


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _libpq_environment(url: URL) -> dict[str, str]:
    # The password goes to the child through its environment, never its command line
    # (which any local user can read in the process list).
    environment = dict(os.environ)
    for variable, value in (
        ("PGHOST", url.host),
        ("PGPORT", str(url.port) if url.port else None),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
        ("PGSSLMODE", url.query.get("sslmode") or url.query.get("ssl")),
    ):
        if isinstance(value, str) and value:
            environment[variable] = value
    return environment


async def _run_tool(tool: str, arguments: list[str], url: URL) -> None:
    executable = shutil.which(tool)
    if executable is None:
        raise ToolMissing(f"{tool} is not installed; install the PostgreSQL client (Debian: postgresql-client)")
    process = await asyncio.create_subprocess_exec(
        executable,
        *arguments,
        env=_libpq_environment(url),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, error = await process.communicate()
    if process.returncode != 0:
        lines = error.decode(errors="replace").strip().splitlines()
        raise BackupError(f"{tool} failed (exit {process.returncode}): {' | '.join(lines[-3:])}")


def _copy_tree(source: Path, target: Path) -> dict[str, FileEntry]:
    """Copy every regular file under ``source``, hashing the bytes as they are written."""
    entries: dict[str, FileEntry] = {}
    target.mkdir(parents=True, exist_ok=True)
    if not source.is_dir():
        return entries
    for path in sorted(source.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        relative = path.relative_to(source).as_posix()
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as reading, destination.open("wb") as writing:
            while chunk := reading.read(_CHUNK):
                digest.update(chunk)
                writing.write(chunk)
                size += len(chunk)
        shutil.copystat(path, destination)
        entries[relative] = FileEntry(sha256=digest.hexdigest(), bytes=size)
    return entries


def _sha256(path: Path) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as reading:
        while chunk := reading.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(sha256=digest.hexdigest(), bytes=size)


# ---------------------------------------------------------------- reading and checking


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_NAME
    if not directory.is_dir():
        raise BackupError(f"{directory} is not a directory")
    if not path.is_file():
        raise BackupCorrupt(MANIFEST_NAME, "missing: not a complete SeqTrack backup")
    try:
        manifest = Manifest.model_validate(json.loads(path.read_bytes()))
    except (ValueError, ValidationError) as exc:
        raise BackupCorrupt(MANIFEST_NAME, f"not a valid manifest ({str(exc).splitlines()[0]})") from None
    if manifest.format != MANIFEST_FORMAT:
        raise BackupError(f"backup format {manifest.format} is not one this version reads ({MANIFEST_FORMAT})")
    return manifest


def check_checksums(directory: Path, manifest: Manifest) -> None:
    """Every file the manifest lists is there with its SHA-256, and nothing else is; raise naming the first."""
    database = directory / manifest.database
    if not database.is_file():
        raise BackupCorrupt(manifest.database, "missing")
    if _sha256(database).sha256 != manifest.database_sha256:
        raise BackupCorrupt(manifest.database, "SHA-256 does not match the manifest (the file was altered)")
    files_root = directory / FILES_DIR
    for relative, expected in sorted(manifest.files.items()):
        path = files_root / relative
        shown = f"{FILES_DIR}/{relative}"
        if not path.is_file():
            raise BackupCorrupt(shown, "missing")
        found = _sha256(path)
        if found.sha256 != expected.sha256 or found.bytes != expected.bytes:
            raise BackupCorrupt(shown, "SHA-256 does not match the manifest (the file was altered)")
    if files_root.is_dir():
        for path in sorted(files_root.rglob("*")):
            relative = path.relative_to(files_root).as_posix()
            if path.is_file() and relative not in manifest.files:
                raise BackupCorrupt(f"{FILES_DIR}/{relative}", "not listed in the manifest")


async def verify_backup(settings: Settings, directory: Path, scratch_server: str | None = None) -> Verified:
    """Restore into a scratch database, then check the counts, the checksums and the audit chain.

    A PostgreSQL backup is restored into a new database on ``scratch_server`` (a
    PostgreSQL URL; default the configured database's server), dropped afterwards.
    """
    from seqtrack.audit.chain import audit_key

    manifest = read_manifest(directory)
    await asyncio.to_thread(check_checksums, directory, manifest)
    with tempfile.TemporaryDirectory(prefix="seqtrack-verify-") as scratch_dir:
        async with _scratch_copy(settings, directory, manifest, Path(scratch_dir), scratch_server) as url:
            tables = await count_rows(url)
            for name in sorted(set(tables) | set(manifest.tables)):
                restored, expected = tables.get(name), manifest.tables.get(name)
                if restored != expected:
                    raise BackupCorrupt(
                        manifest.database,
                        f"table {name} has {restored} rows after restore; the manifest says {expected}",
                    )
            scratch_settings = settings.model_copy(
                update={"database_url": SecretStr(url), "data_dir": Path(scratch_dir)}
            )
            # The installation's audit key, not one the scratch data directory would make up.
            verification = await _verify_audit(scratch_settings, audit_key(settings))
    if verification.broken is not None:
        broken = verification.broken
        raise BackupCorrupt(
            manifest.database,
            f"audit trail broken at tenant {broken.tenant_id}, sequence {broken.sequence}: {broken.problem}",
        )
    return Verified(manifest, verification.entries, verification.tenants)


async def _verify_audit(settings: Settings, key: bytes) -> Verification:
    from seqtrack.audit import service as audit_service
    from seqtrack.events import recorder  # provides the event digests the verification checks
    from seqtrack.platform.database import Database

    assert recorder
    database = Database(settings)
    try:
        async with database.snapshot_session() as session:
            return await audit_service.verify(session, key=key)
    finally:
        await database.dispose()


@asynccontextmanager
async def _scratch_copy(
    settings: Settings, directory: Path, manifest: Manifest, scratch_dir: Path, scratch_server: str | None
) -> AsyncIterator[str]:
    if manifest.engine == "sqlite":
        target = scratch_dir / "seqtrack.db"
        await asyncio.to_thread(shutil.copyfile, directory / manifest.database, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    server = scratch_server or settings.database_dsn
    if not server.startswith("postgresql"):
        raise BackupError(
            "verifying a PostgreSQL backup needs a PostgreSQL server to restore into: "
            "set SEQTRACK_DATABASE_URL or pass --scratch-server"
        )
    name = f"seqtrack_verify_{secrets.token_hex(6)}"
    admin = make_url(server)
    await _admin_execute(admin, f'CREATE DATABASE "{name}"')
    scratch = admin.set(database=name)
    try:
        await _pg_restore(directory / manifest.database, scratch)
        yield scratch.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    finally:
        await _admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin_execute(url: URL, statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def count_rows(url: str) -> dict[str, int]:
    """Rows per table of the database at ``url`` (SQLite or PostgreSQL)."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        path = Path(parsed.database or "")

        def count() -> dict[str, int]:
            if not path.exists():
                return {}
            connection = sqlite3.connect(path)
            try:
                return _sqlite_facts(connection)[1]
            finally:
                connection.close()

        return await asyncio.to_thread(count)
    connection = await asyncpg.connect(_asyncpg_dsn(parsed))
    try:
        return (await _postgres_facts(connection))[1]
    finally:
        await connection.close()


# ---------------------------------------------------------------- restoring


async def restore(settings: Settings, directory: Path, *, force: bool = False) -> Manifest:
    """Put the backup in ``directory`` in place of the configured database and file store.

    Refuses a target that holds data unless ``force``; never restores a backup
    whose files do not match its manifest. Stop the api and workers first: the
    database is replaced underneath any open connection.
    """
    manifest = read_manifest(directory)
    await asyncio.to_thread(check_checksums, directory, manifest)
    target_engine: Engine = "sqlite" if settings.is_sqlite else "postgresql"
    if manifest.engine != target_engine:
        raise BackupError(
            f"this is a backup of a {manifest.engine} database; the configured database is {target_engine}"
        )
    occupied = await _occupied(settings)
    if occupied and not force:
        raise TargetNotEmpty(
            f"the target already holds data ({occupied}); restore replaces it only when told to (--force)"
        )
    if manifest.engine == "sqlite":
        await asyncio.to_thread(_restore_sqlite, directory / manifest.database, sqlite_file(settings))
    else:
        await _restore_postgres(directory / manifest.database, make_url(settings.database_dsn))
    await asyncio.to_thread(_replace_tree, directory / FILES_DIR, settings.file_store)
    return manifest


async def _occupied(settings: Settings) -> str:
    """What the target holds already, in words; empty when there is nothing to lose."""
    tables = await count_rows(settings.database_dsn)
    held = {name: count for name, count in tables.items() if count and name != "alembic_version"}
    parts = []
    if held:
        largest = ", ".join(f"{name}: {count}" for name, count in sorted(held.items(), key=lambda item: -item[1])[:3])
        parts.append(f"{sum(held.values())} rows in {len(held)} tables, most in {largest}")
    files = await asyncio.to_thread(_count_files, settings.file_store)
    if files:
        parts.append(f"{files} files in {settings.file_store}")
    return "; ".join(parts)


def _count_files(directory: Path) -> int:
    return sum(1 for path in directory.rglob("*") if path.is_file()) if directory.is_dir() else 0


def _restore_sqlite(dump: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = target.with_name(target.name + ".restoring")
    shutil.copyfile(dump, incoming)
    # The old database's write-ahead log must not be replayed onto the restored file.
    for suffix in ("-wal", "-shm", "-journal"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(incoming, target)


async def _restore_postgres(dump: Path, url: URL) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        # Everything SeqTrack keeps lives in the public schema; the dump recreates all of it.
        await connection.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await connection.close()
    await _pg_restore(dump, url)


async def _pg_restore(dump: Path, url: URL) -> None:
    # All or nothing: a restore that stops half-way must leave no half-restored database.
    options = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    await _run_tool("pg_restore", [*options, f"--dbname={url.database}", str(dump)], url)


def _replace_tree(source: Path, target: Path) -> None:
    if target.is_dir():
        for child in target.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    target.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)


# ---------------------------------------------------------------- retention


def backups_in(directory: Path) -> list[tuple[datetime, Path]]:
    """Complete backups (a manifest present) named by :func:`backup_name`, newest first."""
    found: list[tuple[datetime, Path]] = []
    if not directory.is_dir():
        return found
    for path in directory.iterdir():
        match = BACKUP_NAME.match(path.name)
        if match and (path / MANIFEST_NAME).is_file():
            moment = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            found.append((moment, path))
    return sorted(found, reverse=True)


def to_keep(moments: list[datetime], keep_daily: int, keep_weekly: int) -> set[datetime]:
    """The newest backup of each of the last ``keep_daily`` days and ``keep_weekly`` ISO weeks that have one."""
    kept: set[datetime] = set()
    days: set[object] = set()
    weeks: set[object] = set()
    for moment in sorted(moments, reverse=True):
        day = moment.date()
        week = moment.isocalendar()[:2]
        if day not in days and len(days) < keep_daily:
            days.add(day)
            kept.add(moment)
        if week not in weeks and len(weeks) < keep_weekly:
            weeks.add(week)
            kept.add(moment)
    return kept


def prune(directory: Path, keep_daily: int, keep_weekly: int) -> list[Path]:
    """Delete the backups the retention policy no longer keeps; return them."""
    found = backups_in(directory)
    kept = to_keep([moment for moment, _ in found], keep_daily, keep_weekly)
    removed = [path for moment, path in found if moment not in kept]
    for path in removed:
        shutil.rmtree(path)
    return removed
