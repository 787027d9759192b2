"""Alembic, driven from code: the CLI, start-up checks and tests share this."""

from __future__ import annotations

import fcntl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection, make_url

from seqtrack.platform import crypto
from seqtrack.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# PostgreSQL advisory lock key of "a migration is running" (any constant 64-bit number; this spells SEQTRACK).
MIGRATION_LOCK_KEY = 0x5345_5154_5241_434B
GUARDED = "seqtrack.guarded"


class DatabaseNewerThanCode(RuntimeError):
    """The database was migrated by a newer SeqTrack; this one must not touch its schema."""


def migration_keyring() -> crypto.Keyring:
    """The installation's personal-data keys, for a data migration that seals or opens values."""
    from alembic import op

    from seqtrack.settings import get_settings

    config = op.get_context().config
    settings = config.attributes.get("settings") if config is not None else None
    return crypto.keyring_for(settings or get_settings())


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an ini option, so '%' in passwords is harmless.
    config.attributes["database_url"] = settings.database_dsn
    # Data migrations that encrypt personal data need the installation's keys.
    config.attributes["settings"] = settings
    return config


@lru_cache
def head_revision() -> str | None:
    return _scripts().get_current_head()


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Migrate to ``revision``, one process at a time, never over a schema this code does not know."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    config = alembic_config(settings)
    config.attributes[GUARDED] = True
    command.upgrade(config, revision)


def downgrade(settings: Settings, revision: str) -> None:
    config = alembic_config(settings)
    config.attributes[GUARDED] = True
    command.downgrade(config, revision)


@contextmanager
def migration_lock(connection: Connection, url: str) -> Iterator[None]:
    """Hold the instance's migration lock: two processes (of any versions) never migrate at once.

    PostgreSQL: a session advisory lock, released by the server if the process dies.
    SQLite: an exclusive ``flock`` on a file beside the database, released likewise.
    """
    if connection.dialect.name == "postgresql":
        taken = connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({MIGRATION_LOCK_KEY})").scalar()
        if not taken:
            _say_waiting()
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
        # The lock belongs to the session; ending this transaction lets Alembic run its own.
        connection.commit()
        try:
            yield
        finally:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
            connection.commit()
        return
    path = sqlite_lock_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say_waiting()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sqlite_lock_path(url: str) -> Path:
    database = make_url(url).database or "seqtrack.db"
    return Path(database).with_name(Path(database).name + ".migrate-lock")


def _say_waiting() -> None:
    print("another process is migrating this database; waiting for it to finish", file=sys.stderr)  # noqa: T201


def refuse_unknown_revision(connection: Connection) -> None:
    """Stop before touching a schema that a newer release has already migrated."""
    current = MigrationContext.configure(connection).get_current_revision()
    connection.commit()
    if current is None:
        return
    try:
        known = _scripts().get_revision(current)
    except CommandError:
        known = None
    if known is None:
        from seqtrack import __version__

        raise DatabaseNewerThanCode(
            f"the database is at schema revision {current!r}, which SeqTrack {__version__} does not know "
            f"(its newest is {head_revision()!r}): a newer release has migrated it. Run that release or a "
            "later one; to go back to this one, restore a backup taken before the upgrade."
        )


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config)


def current(settings: Settings) -> None:
    command.current(alembic_config(settings), verbose=False)
