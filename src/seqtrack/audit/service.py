"""Appending to and verifying the audit trail."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.audit.chain import GENESIS_HASH, entry_hash
from seqtrack.audit.models import AuditChainHead, AuditEntry
from seqtrack.platform.database import before_commit

_PENDING = "seqtrack.audit.pending"


def append(session: AsyncSession, entry: AuditEntry) -> None:
    """Stage an entry; it is chained and written as the last step before commit.

    Chaining late keeps the per-tenant head lock, which every writer of the
    tenant waits for, held only for the final statements of the transaction.
    """
    session.info.setdefault(_PENDING, []).append(entry)
    before_commit(session, "audit.seal", _seal)


async def seal_pending(session: AsyncSession) -> list[AuditEntry]:
    """Chain and write the entries staged so far now, for a long import that must let its rows go.

    The tenant's head stays locked from here to commit, as it would at commit.
    """
    return await _chain(session)


async def _seal(session: AsyncSession) -> None:
    await _chain(session)


async def _chain(session: AsyncSession) -> list[AuditEntry]:
    pending: list[AuditEntry] = session.info.pop(_PENDING, [])
    by_tenant: dict[uuid.UUID, list[AuditEntry]] = defaultdict(list)
    for entry in pending:
        by_tenant[entry.tenant_id].append(entry)
    # A fixed lock order keeps two multi-tenant transactions from deadlocking.
    for tenant_id in sorted(by_tenant, key=str):
        entries = by_tenant[tenant_id]
        sequence, entry_hash_before = await _claim_sequences(session, tenant_id, len(entries))
        sequence -= len(entries)
        for entry in entries:
            sequence += 1
            entry.sequence = sequence
            entry.previous_hash = entry_hash_before
            entry.entry_hash = entry_hash_before = entry_hash(entry)
        session.add_all(entries)
        await session.execute(
            update(AuditChainHead).where(AuditChainHead.tenant_id == tenant_id).values(entry_hash=entry_hash_before)
        )
    await session.flush()
    return pending


async def _claim_sequences(session: AsyncSession, tenant_id: uuid.UUID, count: int) -> tuple[int, str]:
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


@dataclass(frozen=True)
class BrokenLink:
    tenant_id: uuid.UUID
    entry_id: uuid.UUID | None
    sequence: int
    problem: str


@dataclass(frozen=True)
class Verification:
    tenants: int
    entries: int
    broken: BrokenLink | None

    @property
    def ok(self) -> bool:
        return self.broken is None


async def verify(session: AsyncSession, tenant_id: uuid.UUID | None = None) -> Verification:
    """Recompute every hash and link; report the first entry that does not hold."""
    heads_query = select(AuditChainHead).order_by(AuditChainHead.tenant_id)
    if tenant_id is not None:
        heads_query = heads_query.where(AuditChainHead.tenant_id == tenant_id)
    heads = list(await session.scalars(heads_query))
    checked = 0
    for head in heads:
        broken, count = await _verify_tenant(session, head)
        checked += count
        if broken is not None:
            return Verification(tenants=len(heads), entries=checked, broken=broken)
    return Verification(tenants=len(heads), entries=checked, broken=None)


async def _verify_tenant(session: AsyncSession, head: AuditChainHead) -> tuple[BrokenLink | None, int]:
    expected_previous = GENESIS_HASH
    expected_sequence = 1
    last: AuditEntry | None = None
    stream = await session.stream_scalars(
        select(AuditEntry)
        .where(AuditEntry.tenant_id == head.tenant_id)
        .order_by(AuditEntry.sequence)
        .execution_options(yield_per=1000)
    )
    count = 0
    async for entry in stream:
        count += 1

        def broken(problem: str, entry: AuditEntry = entry) -> BrokenLink:
            return BrokenLink(head.tenant_id, entry.id, entry.sequence, problem)

        if entry.sequence != expected_sequence:
            return broken(f"entry {expected_sequence} is missing"), count
        if entry.previous_hash != expected_previous:
            return broken("does not link to the entry before it"), count
        if entry_hash(entry) != entry.entry_hash:
            return broken("content does not match its hash (the entry was altered)"), count
        expected_previous = entry.entry_hash
        expected_sequence += 1
        last = entry
    last_sequence = last.sequence if last else 0
    if last_sequence != head.sequence or expected_previous != head.entry_hash:
        return (
            BrokenLink(head.tenant_id, None, last_sequence + 1, "entries after this point were removed"),
            count,
        )
    return None, count


async def entity_trail(
    session: AsyncSession, tenant_id: uuid.UUID, entity_type: str, entity_id: uuid.UUID, limit: int = 200
) -> list[AuditEntry]:
    """One record's audit entries, oldest first (a record's detail page shows them)."""
    query = (
        select(AuditEntry)
        .where(
            AuditEntry.tenant_id == tenant_id,
            AuditEntry.entity_type == entity_type,
            AuditEntry.entity_id == entity_id,
        )
        .order_by(AuditEntry.sequence)
        .limit(limit)
    )
    return list(await session.scalars(query))
