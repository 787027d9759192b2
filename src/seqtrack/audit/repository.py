"""Audit queries: the trail as read, and the chain heads. No rules, no commit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.audit.chain import GENESIS_HASH
from seqtrack.audit.models import AuditChainHead, AuditEntry
from seqtrack.platform.bulk import insert_rows
from seqtrack.platform.pagination import SortKey, apply_keyset, parse_int, split_page
from seqtrack.platform.query import utc_if_naive


@dataclass(frozen=True)
class TrailFilters:
    """What a reader of the trail narrows it to; every field exact."""

    entity_type: str | None = None
    entity_id: uuid.UUID | None = None
    action: str | None = None
    actor_id: uuid.UUID | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


def _filtered(tenant_id: uuid.UUID, filters: TrailFilters) -> Select[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
    exact = (
        (AuditEntry.entity_type, filters.entity_type),
        (AuditEntry.entity_id, filters.entity_id),
        (AuditEntry.action, filters.action),
        (AuditEntry.actor_id, filters.actor_id),
    )
    for column, wanted in exact:
        if wanted is not None:
            query = query.where(column == wanted)
    if filters.occurred_from is not None:
        query = query.where(AuditEntry.occurred_at >= utc_if_naive(filters.occurred_from))
    if filters.occurred_to is not None:
        query = query.where(AuditEntry.occurred_at < utc_if_naive(filters.occurred_to))
    return query


async def page(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    filters: TrailFilters,
    *,
    order: Literal["asc", "desc"],
    cursor: str | None,
    limit: int,
) -> tuple[list[AuditEntry], str | None]:
    """One keyset page of the tenant's trail, by sequence."""
    query = apply_keyset(
        _filtered(tenant_id, filters),
        SortKey(AuditEntry.sequence, parse_int),
        AuditEntry.id,
        descending=order == "desc",
        cursor=cursor,
        limit=limit,
    )
    return split_page(list(await session.scalars(query)), limit, lambda row: (row.sequence, row.id))


async def entity_trail(
    session: AsyncSession, tenant_id: uuid.UUID, entity_type: str, entity_id: uuid.UUID, limit: int
) -> list[AuditEntry]:
    query = (
        _filtered(tenant_id, TrailFilters(entity_type=entity_type, entity_id=entity_id))
        .order_by(AuditEntry.sequence)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def chain_heads(session: AsyncSession, tenant_id: uuid.UUID | None = None) -> list[AuditChainHead]:
    query = select(AuditChainHead).order_by(AuditChainHead.tenant_id)
    if tenant_id is not None:
        query = query.where(AuditChainHead.tenant_id == tenant_id)
    return list(await session.scalars(query))


async def chain_in_batches(
    session: AsyncSession, tenant_id: uuid.UUID, batch: int
) -> AsyncIterator[Sequence[AuditEntry]]:
    """A tenant's whole chain, in order, ``batch`` entries at a time (a trail outgrows memory)."""
    stream = await session.stream_scalars(
        select(AuditEntry)
        .where(AuditEntry.tenant_id == tenant_id)
        .order_by(AuditEntry.sequence)
        .execution_options(yield_per=batch)
    )
    async for entries in stream.partitions(batch):
        yield entries


async def claim_sequences(session: AsyncSession, tenant_id: uuid.UUID, count: int) -> tuple[int, str]:
    """Advance the tenant's head by ``count``, holding its lock until commit.

    Returns the new last sequence and the hash the first claimed entry links to.
    One statement: the UPDATE takes the row lock that queues the tenant's
    writers and hands back the head as the previous writer committed it.
    """
    advance = (
        update(AuditChainHead)
        .where(AuditChainHead.tenant_id == tenant_id)
        .values(sequence=AuditChainHead.sequence + count)
        .returning(AuditChainHead.sequence, AuditChainHead.entry_hash)
    )
    head = (await session.execute(advance)).first()
    if head is None:
        # A tenant's first entry: two writers may race to create the head, so the
        # insert tolerates the other's row and both then queue on its lock.
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        await session.execute(
            insert(AuditChainHead)
            .values(tenant_id=tenant_id, sequence=0, entry_hash=GENESIS_HASH)
            .on_conflict_do_nothing(index_elements=["tenant_id"])
        )
        head = (await session.execute(advance)).first()
    assert head is not None
    return int(head.sequence), str(head.entry_hash)


async def add_entries(session: AsyncSession, entries: Sequence[Mapping[str, Any]]) -> None:
    """Chained entries as plain values, one statement for all (an import adds thousands at once)."""
    await insert_rows(session, AuditEntry, entries)


async def move_head(session: AsyncSession, tenant_id: uuid.UUID, entry_hash: str, signature: str) -> None:
    await session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.tenant_id == tenant_id)
        .values(entry_hash=entry_hash, signature=signature)
    )
