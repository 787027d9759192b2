"""Consumers of published events, each applying an event at most once.

The relay delivers at least once; a consumer records the event id in
``processed_events`` inside the same transaction as its effect, so a
redelivery finds the row and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events.models import ProcessedEvent
from seqtrack.platform.database import Database
from seqtrack.platform.models import new_id

log = structlog.get_logger("seqtrack.consumers")

Envelope = dict[str, Any]
ConsumerHandler = Callable[[AsyncSession, Envelope], Awaitable[None]]


@dataclass(frozen=True)
class Consumer:
    name: str
    handler: ConsumerHandler
    # Event types this consumer wants; None means all of them.
    event_types: frozenset[str] | None = None

    def wants(self, envelope: Envelope) -> bool:
        return self.event_types is None or str(envelope.get("type")) in self.event_types


_CONSUMERS: dict[str, Consumer] = {}


def consumer(name: str, event_types: set[str] | None = None) -> Callable[[ConsumerHandler], ConsumerHandler]:
    def register(handler: ConsumerHandler) -> ConsumerHandler:
        _CONSUMERS[name] = Consumer(name, handler, frozenset(event_types) if event_types is not None else None)
        return handler

    return register


def registered() -> list[Consumer]:
    return list(_CONSUMERS.values())


async def apply_once(database: Database, target: Consumer, envelope: Envelope) -> bool:
    """Apply ``envelope`` with ``target`` unless it already has; True when it was applied now."""
    if not target.wants(envelope):
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
