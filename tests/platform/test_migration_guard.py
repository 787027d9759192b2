"""`seqtrack db upgrade` waits for another migration, and refuses a schema newer than the code."""

from __future__ import annotations

import asyncio
import fcntl
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from seqtrack.platform import migrations
from tests.fixtures.database import fresh_postgres_database, make_settings
from tests.fixtures.processes import REPO, base_env

# Among the slowest tests of the suite: run first, so the suite does not end waiting on them.
pytestmark = pytest.mark.slow


def _upgrade_process(url: str, data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "seqtrack", "db", "upgrade"],
        cwd=REPO,
        env=base_env(database_url=url, data_dir=str(data_dir)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _says_it_waits(process: subprocess.Popen[str], timeout: float = 60) -> str:
    """Read the process's error output until it says it is waiting for the lock; it must not have finished."""
    assert process.stderr is not None
    said = ""
    deadline = time.monotonic() + timeout
    while "waiting for it to finish" not in said:
        assert time.monotonic() < deadline, f"db upgrade never said it was waiting: {said!r}"
        readable, _, _ = select.select([process.stderr], [], [], 0.5)
        if readable:
            chunk = os.read(process.stderr.fileno(), 4096).decode()
            assert chunk, f"db upgrade ended without waiting for the lock: {said!r}"
            said += chunk
    time.sleep(1.0)
    assert process.poll() is None, "db upgrade went ahead while another process held the migration lock"
    return said


@contextmanager
def _sqlite_lock_held(url: str) -> Iterator[None]:
    path = migrations.sqlite_lock_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


async def _postgres_lock_holder(url: str) -> asyncpg.Connection:
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    await connection.execute(f"SELECT pg_advisory_lock({migrations.MIGRATION_LOCK_KEY})")
    return connection


def test_sqlite_upgrade_waits_for_a_migration_already_running(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'seqtrack.db'}"
    with _sqlite_lock_held(url):
        process = _upgrade_process(url, tmp_path / "data")
        _says_it_waits(process)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "database at head" in out


@pytest.mark.postgres
def test_postgres_upgrade_waits_for_a_migration_already_running(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    for url in fresh_postgres_database(tmp_path, migrate=False):
        holder = loop.run_until_complete(_postgres_lock_holder(url))
        try:
            process = _upgrade_process(url, tmp_path / "data")
            _says_it_waits(process)
        finally:
            loop.run_until_complete(holder.close())
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "database at head" in out
    loop.close()


def _refused(url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seqtrack", "db", "upgrade"],
        cwd=REPO,
        env=base_env(database_url=url, data_dir=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_upgrade_refuses_a_sqlite_database_migrated_by_a_newer_release(tmp_path: Path) -> None:
    import sqlite3

    settings = make_settings(tmp_path / "data")
    migrations.upgrade(settings)
    connection = sqlite3.connect(tmp_path / "data" / "seqtrack.db")
    connection.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    connection.commit()
    connection.close()

    result = _refused(settings.database_dsn, tmp_path / "data")
    assert result.returncode == 2
    assert "'0099_from_the_future'" in result.stderr
    assert "a newer release has migrated it" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.postgres
async def test_upgrade_refuses_a_postgres_database_migrated_by_a_newer_release(tmp_path: Path) -> None:
    for url in fresh_postgres_database(tmp_path):
        connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
        try:
            await connection.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
        finally:
            await connection.close()
        result = _refused(url, tmp_path / "data")
        assert result.returncode == 2
        assert "a newer release has migrated it" in result.stderr
