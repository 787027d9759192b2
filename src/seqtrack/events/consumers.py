"""Consumers of published events, each applying an event at most once.

The relay delivers at least once; a consumer records the event id in
``processed_events`` inside the same transaction as its effect, so a
redelivery finds the row and changes nothing.

A consumer declares the event types it handles and, optionally, whether an
event concerns anyone right now (a webhook subscribed to it, an e-mail
preference that names it). Events outside both are passed over without a
write: an idle consumer costs a filter, not a transaction and a row per event.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events.models import ProcessedEvent
from seqtrack.platform.database import Database
from seqtrack.platform.models import new_id

log = structlog.get_logger("seqtrack.consumers")

Envelope = dict[str, Any]
ConsumerHandler = Callable[[AsyncSession, Envelope], Awaitable[None]]
Concern = Callable[[AsyncSession, Envelope], Awaitable[bool]]


def matches(patterns: Iterable[str], event_type: str) -> bool:
    """Whether ``event_type`` is one of ``patterns``: exact names, ``"sample.*"`` prefixes, or ``"*"``."""
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


@dataclass(frozen=True)
class Consumer:
    name: str
    handler: ConsumerHandler
    # The event types this consumer acts on (see :func:`matches`); nothing else reaches it.
    handles: tuple[str, ...]
    # Asked on a read-only session before anything is written; False passes the event over.
    concerned: Concern | None = None

    def wants(self, envelope: Envelope) -> bool:
        return matches(self.handles, str(envelope.get("type")))


_CONSUMERS: dict[str, Consumer] = {}


def consumer(
    name: str, *, handles: Iterable[str], concerned: Concern | None = None
) -> Callable[[ConsumerHandler], ConsumerHandler]:
    patterns = tuple(handles)
    if not patterns:
        raise ValueError(f"consumer {name!r} handles no event type")

    def register(handler: ConsumerHandler) -> ConsumerHandler:
        _CONSUMERS[name] = Consumer(name, handler, patterns, concerned)
        return handler

    return register


def registered() -> list[Consumer]:
    return list(_CONSUMERS.values())


async def apply_once(database: Database, target: Consumer, envelope: Envelope) -> bool:
    """Apply ``envelope`` with ``target`` unless it already has; True when it was applied now."""
    if not target.wants(envelope):
        return False
    if target.concerned is not None:
        # Read-only: on SQLite an event nobody subscribed to never queues for the writer.
        async with database.read_session() as session:
            if not await target.concerned(session, envelope):
                return False
    event_id = uuid.UUID(str(envelope["id"]))
    async with database.write_session() as session:
        seen = await session.scalar(
            select(ProcessedEvent.id).where(ProcessedEvent.consumer == target.name, ProcessedEvent.event_id == event_id)
        )
        if seen is not None:
            return False
        try:
            # A savepoint: a concurrent duplicate fails here, before any effect is written.
            async with session.begin_nested():
                session.add(ProcessedEvent(id=new_id(), consumer=target.name, event_id=event_id))
        except IntegrityError:
            log.info("event already applied by a concurrent delivery", consumer=target.name, event_id=str(event_id))
            return False
        await target.handler(session, envelope)
    return True


async def apply_to_all(database: Database, envelope: Envelope) -> None:
    for target in registered():
        await apply_once(database, target, envelope)


# Longer than any redelivery window (JetStream de-duplicates for minutes; outbox retries for hours).
KEEP_PROCESSED_EVENTS = timedelta(days=30)


async def forget_processed(session: AsyncSession, now: datetime) -> None:
    """Drop the records of events handled long enough ago that no redelivery can bring them back."""
    await session.execute(delete(ProcessedEvent).where(ProcessedEvent.processed_at < now - KEEP_PROCESSED_EVENTS))
