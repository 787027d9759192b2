"""Engines, sessions and the one place where transactions commit."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from seqtrack.platform import crypto
from seqtrack.platform.jsondepth import tolerant_loads
from seqtrack.settings import Settings

SessionHook = Callable[[AsyncSession], Awaitable[None]]
_BEFORE_COMMIT = "seqtrack.before_commit"
_AFTER_COMMIT = "seqtrack.after_commit"
_AFTER_ROLLBACK = "seqtrack.after_rollback"
DATABASE_KEY = "seqtrack.database"
T = TypeVar("T")


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
    ``busy_timeout``. Readers use a separate engine and, in WAL mode, never
    block on writers.

    Reads run in autocommit: a request that reads one statement sends just that
    statement, with no BEGIN and COMMIT around it. Code that needs several reads
    to agree with each other asks for a snapshot. Pooled connections are not
    pinged on every checkout; they are recycled by age, and a read that meets a
    connection the server has closed runs once more on a fresh one.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.database_dsn
        self.keyring = crypto.keyring_for(settings)
        crypto.install(self.keyring)
        self.is_sqlite = self.url.startswith("sqlite")
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self.sqlite_path: Path | None = None
        if self.is_sqlite:
            self.sqlite_path = _sqlite_path(self.url)
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            self.write_engine = self._sqlite_engine(immediate=True)
            self.read_engine = self._sqlite_engine(immediate=False)
            self._snapshot_engine = self.read_engine.execution_options(**{_SNAPSHOT: True})
        else:
            self.write_engine = create_async_engine(
                self.url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                pool_timeout=settings.db_pool_timeout_seconds,
                pool_recycle=settings.db_pool_recycle_seconds,
                pool_pre_ping=settings.db_pool_pre_ping,
                json_deserializer=tolerant_loads,
                connect_args={
                    "timeout": settings.db_pool_timeout_seconds,
                    # asyncpg prepares every statement, and after five runs PostgreSQL may
                    # switch one to a generic plan made without its values: a search that
                    # takes 0.4 ms with its pattern in view can take a second without.
                    # Planning each run with its values costs little for these queries.
                    "server_settings": {"plan_cache_mode": "force_custom_plan"},
                },
            )
            # One pool for both; a read simply borrows a connection in autocommit.
            self.read_engine = self.write_engine.execution_options(isolation_level="AUTOCOMMIT")
            self._snapshot_engine = self.write_engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, class_=ReadSession, expire_on_commit=False)
        self._snapshot_sessions = async_sessionmaker(self._snapshot_engine, expire_on_commit=False)

    def _sqlite_engine(self, *, immediate: bool) -> AsyncEngine:
        engine = create_async_engine(
            self.url,
            pool_size=1 if immediate else 5,
            max_overflow=0 if immediate else 10,
            pool_timeout=self.settings.db_pool_timeout_seconds,
            json_deserializer=tolerant_loads,
            connect_args={"timeout": self.settings.sqlite_busy_timeout_ms / 1000},
        )
        busy_timeout = self.settings.sqlite_busy_timeout_ms

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
            # Writers claim the write lock up front; readers in autocommit need no
            # transaction, and snapshots open a deferred one (a read lock on first use).
            if immediate:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            elif connection.get_execution_options().get(_SNAPSHOT):
                connection.exec_driver_sql("BEGIN")

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
        """Reads in autocommit: each statement sees the latest committed data."""
        async with self._read_sessions() as session:
            session.info[DATABASE_KEY] = self
            yield session

    @asynccontextmanager
    async def snapshot_session(self) -> AsyncIterator[AsyncSession]:
        """Reads that must agree with each other: one consistent snapshot of the database."""
        async with self._snapshot_sessions() as session, session.begin():
            session.info[DATABASE_KEY] = self
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


_SNAPSHOT = "seqtrack_snapshot"


class ReadSession(AsyncSession):
    """A session of autocommit reads: each statement stands alone, so one that met a
    pooled connection the server had closed (a restart, a failover) runs once more on
    a fresh connection instead of failing the request."""

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await self._once_more_if_disconnected(super().execute, *args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return await self._once_more_if_disconnected(super().scalar, *args, **kwargs)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return await self._once_more_if_disconnected(super().scalars, *args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await self._once_more_if_disconnected(super().get, *args, **kwargs)

    async def _once_more_if_disconnected(self, call: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        try:
            return await call(*args, **kwargs)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        await self.rollback()
        return await call(*args, **kwargs)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError("SeqTrack needs a SQLite file, not an in-memory database")
    return Path(database)


def _probe_sqlite_file(path: Path) -> None:
    connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=2)
    try:
        # The schema, not only the file: a pooled connection opened after the file was removed
        # leaves an empty one in its place.
        connection.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        connection.close()
