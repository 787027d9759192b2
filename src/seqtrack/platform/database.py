"""Engines, sessions and the one place where transactions commit."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from seqtrack.settings import Settings

SessionHook = Callable[[AsyncSession], Awaitable[None]]
_BEFORE_COMMIT = "seqtrack.before_commit"
_AFTER_COMMIT = "seqtrack.after_commit"
_AFTER_ROLLBACK = "seqtrack.after_rollback"
DATABASE_KEY = "seqtrack.database"


def before_commit(session: AsyncSession, key: str, hook: SessionHook) -> None:
    """Run ``hook`` as the last step of this unit of work, once per key.

    The audit chain uses it to take its per-tenant lock as late as possible.
    """
    session.info.setdefault(_BEFORE_COMMIT, {}).setdefault(key, hook)


def after_commit(session: AsyncSession, key: str, hook: Callable[[], Awaitable[None]]) -> None:
    """Run ``hook`` once this unit of work has committed (never if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT, {}).setdefault(key, hook)


def after_rollback(session: AsyncSession, key: str, hook: Callable[[], Awaitable[None]]) -> None:
    """Run ``hook`` if this unit of work rolls back, once per key, after its writer turn ends.

    For facts that must be kept even though the request fails: a wrong signature
    password still counts toward the account's lockout.
    """
    session.info.setdefault(_AFTER_ROLLBACK, {}).setdefault(key, hook)


def database_of(session: AsyncSession) -> Database | None:
    """The :class:`Database` whose unit of work ``session`` is, if it is one."""
    database = session.info.get(DATABASE_KEY)
    return database if isinstance(database, Database) else None


class Database:
    """Owns the engines and hands out units of work.

    SQLite allows one writer at a time. Writers here queue on an in-process FIFO
    lock and open their transaction with ``BEGIN IMMEDIATE``, so a transaction
    never starts as a reader and later fails to upgrade to a writer (the source
    of "database is locked" under load); other processes (a worker) wait on
    ``busy_timeout``. Readers use a separate engine with plain deferred
    transactions and, in WAL mode, never block on writers.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.database_dsn
        self.is_sqlite = self.url.startswith("sqlite")
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self.sqlite_path: Path | None = None
        if self.is_sqlite:
            self.sqlite_path = _sqlite_path(self.url)
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            self.write_engine = self._sqlite_engine(immediate=True)
            self.read_engine = self._sqlite_engine(immediate=False)
        else:
            self.write_engine = create_async_engine(
                self.url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                pool_timeout=settings.db_pool_timeout_seconds,
                pool_recycle=settings.db_pool_recycle_seconds,
                pool_pre_ping=settings.db_pool_pre_ping,
                connect_args={"timeout": settings.db_pool_timeout_seconds},
            )
            self.read_engine = self.write_engine
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    def _sqlite_engine(self, *, immediate: bool) -> AsyncEngine:
        engine = create_async_engine(
            self.url,
            pool_size=1 if immediate else 5,
            max_overflow=0 if immediate else 10,
            pool_timeout=self.settings.db_pool_timeout_seconds,
            connect_args={"timeout": self.settings.sqlite_busy_timeout_ms / 1000},
        )
        busy_timeout = self.settings.sqlite_busy_timeout_ms
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql(begin)

        return engine

    @asynccontextmanager
    async def write_session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block ends, rolls back if it raises.

        This is the only place in SeqTrack where a transaction commits.
        """
        on_rollback: dict[str, Callable[[], Awaitable[None]]] = {}
        try:
            async with self._writer_turn(), self._write_sessions() as session:
                session.info[DATABASE_KEY] = self
                session.info[_AFTER_ROLLBACK] = on_rollback
                async with session.begin():
                    yield session
                    for hook in session.info.pop(_BEFORE_COMMIT, {}).values():
                        await hook(session)
                on_rollback.clear()
                for notify in session.info.pop(_AFTER_COMMIT, {}).values():
                    await notify()
        except Exception:
            # Outside the writer turn: a hook may open a unit of work of its own.
            for hook in on_rollback.values():
                await hook()
            raise

    @asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[None]:
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        async with self._read_sessions() as session, session.begin():
            yield session

    async def check_reachable(self) -> None:
        """Raise if the database cannot answer a query right now."""
        if self.sqlite_path is not None:
            # A fresh connection each time: pooled ones keep working on a file
            # that has been replaced or removed underneath them.
            await asyncio.to_thread(_probe_sqlite_file, self.sqlite_path)
            return
        async with self.read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def current_revision(self) -> str | None:
        async with self.read_engine.connect() as connection:
            result = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return result.scalar_one_or_none()

    def pool_status(self) -> tuple[int, int]:
        """(connections checked out, pool size) of the write engine."""
        pool: Any = self.write_engine.pool
        try:
            return int(pool.checkedout()), int(pool.size())
        except AttributeError:
            return 0, 0

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError("SeqTrack needs a SQLite file, not an in-memory database")
    return Path(database)


def _probe_sqlite_file(path: Path) -> None:
    connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=2)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        connection.close()
