"""The outbox relay: committed events leave the process, in order, at least once.

Rows are written by :func:`seqtrack.events.recorder.record` in the same
transaction as the change, so the relay can only ever see committed events.
It publishes them in ``position`` order, then marks them sent; a crash between
the two publishes them again (consumers are idempotent, JetStream de-duplicates
by event id).

An idle relay sleeps: a commit in this process that wrote outbox rows rings
:data:`OUTBOX_WRITTEN` and the relay runs at once; otherwise it looks again
after a delay that doubles while nothing comes, up to a second, which bounds
the wait for events written by another process.

On PostgreSQL one relay at a time holds an advisory transaction lock and the
others stand by: a second relay publishing a later batch concurrently would
break the per-aggregate order consumers rely on. On SQLite there is one writer
anyway; the relay reads the batch, publishes, and marks in a separate unit of
work, because in-process consumers open write transactions of their own and
SQLite cannot hand out a second writer while the first is held.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import structlog
from sqlalchemy import Select, func, select, text, update
from sqlalchemy import event as orm_events
from sqlalchemy.orm import ORMExecuteState, Session, object_session

from seqtrack.events import metrics
from seqtrack.events.bus import EventBus, Notifier
from seqtrack.events.models import EventRecord, OutboxMessage
from seqtrack.events.recorder import envelope
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.platform.wakeup import Doorbell, IdleBackoff, wait_rung
from seqtrack.settings import Settings

log = structlog.get_logger("seqtrack.relay")

# Any constant both relays agree on; "SEQR" in ASCII.
RELAY_LOCK_KEY = 0x53455152


# Rung after every commit in this process that wrote outbox rows.
OUTBOX_WRITTEN = Doorbell()
_WROTE_OUTBOX = "seqtrack.wrote_outbox"
_OUTBOX_SOURCES = (EventRecord.__table__, OutboxMessage.__table__)
_listening = False


def _note_event_row(_mapper: Any, _connection: Any, row: EventRecord) -> None:
    # The database adds the outbox row for every event row (a trigger on the event store).
    session = object_session(row)
    if session is not None:
        session.info[_WROTE_OUTBOX] = True


def _note_event_statement(state: ORMExecuteState) -> None:
    # Bulk inserts (session.execute(insert(EventRecord), rows)) bypass the per-row hook.
    if state.is_insert and getattr(state.statement, "table", None) in _OUTBOX_SOURCES:
        state.session.info[_WROTE_OUTBOX] = True


def _ring_if_outbox_written(session: Session) -> None:
    if session.info.pop(_WROTE_OUTBOX, False):
        OUTBOX_WRITTEN.ring()


def _forget_outbox_rows(session: Session, *_: Any) -> None:
    session.info.pop(_WROTE_OUTBOX, None)


def listen_for_outbox_commits() -> None:
    """Ring :data:`OUTBOX_WRITTEN` after commits of this process that wrote outbox rows (once per process)."""
    global _listening
    if _listening:
        return
    _listening = True
    orm_events.listen(EventRecord, "after_insert", _note_event_row)
    orm_events.listen(Session, "do_orm_execute", _note_event_statement)
    orm_events.listen(Session, "after_commit", _ring_if_outbox_written)
    orm_events.listen(Session, "after_rollback", _forget_outbox_rows)


class Relay:
    def __init__(self, settings: Settings, database: Database, bus: EventBus, notifier: Notifier) -> None:
        self.settings = settings
        self.database = database
        self.bus = bus
        self.notifier = notifier
        # Whether the last round found the outbox empty behind it (no lag to measure).
        self.drained = False
        listen_for_outbox_commits()

    async def publish_pending(self) -> int:
        """Publish one batch of committed outbox rows; returns how many left the process."""
        if self.database.is_sqlite:
            published = await self._publish_sqlite()
        else:
            published = await self._publish_locked()
        for tenant in {row_tenant for _, row_tenant in published}:
            try:
                await self.notifier.notify(tenant)
            except Exception:
                log.warning("could not notify live feeds", exc_info=True)
        metrics.RELAY_PUBLISHED.inc(len(published))
        return len(published)

    def _pending(self) -> Select[OutboxMessage, EventRecord]:
        """The oldest unpublished outbox rows with their events, in commit order, one batch."""
        return (
            select(OutboxMessage, EventRecord)
            .join(EventRecord, EventRecord.id == OutboxMessage.event_id)
            .where(OutboxMessage.published_at.is_(None))
            .order_by(OutboxMessage.position)
            .limit(self.settings.relay_batch_size)
        )

    async def _publish_locked(self) -> list[tuple[int, uuid.UUID]]:
        published: list[tuple[int, uuid.UUID]] = []
        async with self.database.read_session() as session:
            # One autocommit statement when idle, instead of a transaction taking the relay lock.
            waiting = await session.scalar(
                select(OutboxMessage.position).where(OutboxMessage.published_at.is_(None)).limit(1)
            )
        self.drained = waiting is None
        if waiting is None:
            return published
        self.drained = False
        async with self.database.write_session() as session:
            got_lock = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RELAY_LOCK_KEY})
            if not got_lock:
                return []
            pending = (await session.execute(self._pending().with_for_update(of=OutboxMessage, skip_locked=True))).all()
            self.drained = len(pending) < self.settings.relay_batch_size
            for row, event in pending:
                try:
                    await self.bus.publish(envelope(event))
                except Exception as exc:
                    # Stop at the first failure: a later event of the same sample must not overtake it.
                    row.attempts += 1
                    row.last_error = repr(exc)[:2000]
                    log.warning("publishing an event failed; will retry", event_id=str(row.event_id), error=repr(exc))
                    self.drained = False
                    break
                row.published_at = utcnow()
                published.append((row.position, row.tenant_id))
        return published

    async def _publish_sqlite(self) -> list[tuple[int, uuid.UUID]]:
        async with self.database.read_session() as session:
            pending = (await session.execute(self._pending())).all()
        self.drained = len(pending) < self.settings.relay_batch_size
        published: list[tuple[int, uuid.UUID]] = []
        failure: tuple[int, str] | None = None
        for row, event in pending:
            try:
                await self.bus.publish(envelope(event))
            except Exception as exc:
                failure = (row.position, repr(exc)[:2000])
                self.drained = False
                log.warning("publishing an event failed; will retry", event_id=str(row.event_id), error=repr(exc))
                break
            published.append((row.position, row.tenant_id))
        if published or failure:
            async with self.database.write_session() as session:
                if published:
                    await session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.position.in_([position for position, _ in published]))
                        .values(published_at=utcnow())
                    )
                if failure:
                    await session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.position == failure[0])
                        .values(attempts=OutboxMessage.attempts + 1, last_error=failure[1])
                    )
        return published

    async def measure_lag(self) -> float:
        async with self.database.read_session() as session:
            oldest = await session.scalar(
                select(func.min(OutboxMessage.created_at)).where(OutboxMessage.published_at.is_(None))
            )
        lag = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
        metrics.RELAY_LAG.set(max(lag, 0.0))
        return lag

    async def run(self, stopping: asyncio.Event) -> None:
        log.info("outbox relay started")
        failures = 0
        idle = IdleBackoff(self.settings.relay_poll_interval_seconds)
        with OUTBOX_WRITTEN.listening() as rung:
            while not stopping.is_set():
                # Cleared before the round: a commit landing while it runs brings another round.
                rung.clear()
                try:
                    published = await self.publish_pending()
                    if self.drained:
                        metrics.RELAY_LAG.set(0.0)
                    else:
                        await self.measure_lag()
                    failures = 0
                except Exception:
                    failures += 1
                    log.warning("outbox relay round failed", exc_info=True)
                    published = 0
                if failures:
                    # The bus or the database is away: ring or not, wait before trying again.
                    await asyncio.sleep(self.settings.relay_poll_interval_seconds * min(2**failures, 32))
                    continue
                if published:
                    idle.reset()
                    if not self.drained:
                        continue
                if await wait_rung(rung, idle.next_delay()):
                    idle.reset()
