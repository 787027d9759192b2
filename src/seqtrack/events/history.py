"""An aggregate's past, asked for by the domain that owns the aggregate (the rows are this package's)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events.models import EventRecord


@dataclass(frozen=True, slots=True)
class PastEvent:
    id: uuid.UUID
    version: int
    type: str
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_display: str
    correlation_id: str | None
    data: dict[str, Any]


_COLUMNS = (
    EventRecord.id,
    EventRecord.version,
    EventRecord.type,
    EventRecord.occurred_at,
    EventRecord.actor_id,
    EventRecord.actor_display,
    EventRecord.correlation_id,
    EventRecord.data,
)


async def of_aggregate(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    aggregate_type: str,
    aggregate_id: uuid.UUID,
    *,
    until: datetime | None = None,
) -> list[PastEvent]:
    """The aggregate's events in the order they happened, up to ``until`` when given."""
    query = select(*_COLUMNS).where(
        EventRecord.tenant_id == tenant_id,
        EventRecord.aggregate_type == aggregate_type,
        EventRecord.aggregate_id == aggregate_id,
    )
    if until is not None:
        query = query.where(EventRecord.occurred_at <= until)
    rows = await session.execute(query.order_by(EventRecord.version))
    return [PastEvent(*row) for row in rows]


async def latest_versions(
    session: AsyncSession, aggregate_type: str, aggregate_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """The last event version of each aggregate, in one statement, for a batch of new events."""
    if not aggregate_ids:
        return {}
    query = (
        select(EventRecord.aggregate_id, func.max(EventRecord.version))
        .where(EventRecord.aggregate_type == aggregate_type, EventRecord.aggregate_id.in_(list(aggregate_ids)))
        .group_by(EventRecord.aggregate_id)
    )
    return {row[0]: int(row[1]) for row in (await session.execute(query)).all()}


async def newest_of_each_type(session: AsyncSession, aggregate_type: str) -> dict[str, datetime]:
    """When each type of event of ``aggregate_type`` last happened, across tenants (operators' metrics)."""
    rows = await session.execute(
        select(EventRecord.type, func.max(EventRecord.occurred_at))
        .where(EventRecord.aggregate_type == aggregate_type)
        .group_by(EventRecord.type)
    )
    return {row[0]: row[1] for row in rows}
