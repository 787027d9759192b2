"""Appending to and verifying the audit trail."""

from __future__ import annotations

import hmac
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.audit.chain import GENESIS_HASH, KEYED_VERSION, LEGACY_VERSION, audit_key, entry_hash, head_signature
from seqtrack.audit.models import AuditChainHead, AuditEntry
from seqtrack.platform.bulk import insert_rows
from seqtrack.platform.database import before_commit, database_of
from seqtrack.platform.integrity import event_digests
from seqtrack.platform.models import new_id

_PENDING = "seqtrack.audit.pending"
VERIFY_BATCH = 1000


def append(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    occurred_at: datetime,
    actor_id: uuid.UUID | None,
    actor_kind: str,
    actor_display: str,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID,
    changes: dict[str, Any],
    reason: str | None,
    signature: dict[str, Any] | None,
    event_id: uuid.UUID,
    event_digest: str,
    correlation_id: str | None,
) -> None:
    """Stage an entry for the event ``event_id`` (whose content ``event_digest`` binds); it is chained and
    written as the last step before commit.

    Chaining late keeps the per-tenant head lock, which every writer of the
    tenant waits for, held only for the final statements of the transaction.
    Entries are staged as plain values and written in one statement: an import
    of a hundred thousand samples chains as many entries without building an
    object for each.
    """
    entry = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "occurred_at": occurred_at,
        "actor_id": actor_id,
        "actor_kind": actor_kind,
        "actor_display": actor_display,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "changes": changes,
        "reason": reason,
        "signature": signature,
        "event_id": event_id,
        "correlation_id": correlation_id,
        "event_digest": event_digest,
    }
    session.info.setdefault(_PENDING, []).append(entry)
    before_commit(session, "audit.seal", _seal)


async def seal_pending(session: AsyncSession) -> int:
    """Chain and write the entries staged so far now, for a long import that must let its rows go.

    The tenant's head stays locked from here to commit, as it would at commit.
    Answers how many entries were written.
    """
    return await _chain(session)


async def _seal(session: AsyncSession) -> None:
    await _chain(session)


async def _chain(session: AsyncSession) -> int:
    pending: list[dict[str, Any]] = session.info.pop(_PENDING, [])
    if not pending:
        return 0
    key = _key_of(session)
    by_tenant: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for entry in pending:
        by_tenant[entry["tenant_id"]].append(entry)
    # A fixed lock order keeps two multi-tenant transactions from deadlocking.
    for tenant_id in sorted(by_tenant, key=str):
        entries = by_tenant[tenant_id]
        sequence, entry_hash_before = await _claim_sequences(session, tenant_id, len(entries))
        sequence -= len(entries)
        for entry in entries:
            sequence += 1
            entry["sequence"] = sequence
            entry["hash_version"] = KEYED_VERSION
            entry["previous_hash"] = entry_hash_before
            entry["entry_hash"] = entry_hash_before = entry_hash(entry, key)
        await insert_rows(session, AuditEntry, entries)
        await session.execute(
            update(AuditChainHead)
            .where(AuditChainHead.tenant_id == tenant_id)
            .values(entry_hash=entry_hash_before, signature=head_signature(key, tenant_id, sequence, entry_hash_before))
        )
    return len(pending)


def _key_of(session: AsyncSession) -> bytes:
    database = database_of(session)
    if database is None:
        raise RuntimeError("the audit key comes from the settings of a Database's session")
    return audit_key(database.settings)


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


@dataclass(frozen=True)
class Checkpoint:
    """A chain head written down outside the database: the chain must still reach it."""

    tenant_id: uuid.UUID
    sequence: int
    entry_hash: str


async def verify(
    session: AsyncSession,
    tenant_id: uuid.UUID | None = None,
    *,
    key: bytes | None = None,
    checkpoints: Sequence[Checkpoint] = (),
) -> Verification:
    """Recompute every hash, link and event digest; report the first entry that does not hold.

    ``key`` defaults to the audit key of the settings the session's database runs with.

    ``checkpoints`` are heads recorded earlier (``seqtrack audit checkpoint``):
    a chain that no longer reaches one was cut back since, whatever its head says.
    """
    heads_query = select(AuditChainHead).order_by(AuditChainHead.tenant_id)
    if tenant_id is not None:
        heads_query = heads_query.where(AuditChainHead.tenant_id == tenant_id)
    heads = list(await session.scalars(heads_query))
    key = key if key is not None else _key_of(session)
    marks = {mark.tenant_id: mark for mark in checkpoints if tenant_id is None or mark.tenant_id == tenant_id}
    checked = 0
    for head in heads:
        broken, count = await _verify_tenant(session, head, key, marks.pop(head.tenant_id, None))
        checked += count
        if broken is not None:
            return Verification(tenants=len(heads), entries=checked, broken=broken)
    for lost in sorted(marks.values(), key=lambda mark: str(mark.tenant_id)):
        problem = f"the chain is gone; the checkpoint recorded {lost.sequence} entries"
        return Verification(tenants=len(heads), entries=checked, broken=BrokenLink(lost.tenant_id, None, 1, problem))
    return Verification(tenants=len(heads), entries=checked, broken=None)


async def current_heads(session: AsyncSession) -> list[Checkpoint]:
    heads = await session.scalars(select(AuditChainHead).order_by(AuditChainHead.tenant_id))
    return [Checkpoint(head.tenant_id, head.sequence, head.entry_hash) for head in heads]


async def _verify_tenant(
    session: AsyncSession, head: AuditChainHead, key: bytes, mark: Checkpoint | None
) -> tuple[BrokenLink | None, int]:
    digests_of = event_digests()
    expected_previous = GENESIS_HASH
    expected_sequence = 1
    keyed_seen = False
    last: AuditEntry | None = None
    stream = await session.stream_scalars(
        select(AuditEntry)
        .where(AuditEntry.tenant_id == head.tenant_id)
        .order_by(AuditEntry.sequence)
        .execution_options(yield_per=VERIFY_BATCH)
    )
    count = 0
    async for batch in stream.partitions(VERIFY_BATCH):
        bound = [entry.event_id for entry in batch if entry.event_id is not None and entry.event_digest is not None]
        current = await digests_of(session, bound)
        for entry in batch:
            count += 1

            def broken(problem: str, entry: AuditEntry = entry) -> BrokenLink:
                return BrokenLink(head.tenant_id, entry.id, entry.sequence, problem)

            keyed = (entry.hash_version or LEGACY_VERSION) >= KEYED_VERSION
            if entry.sequence != expected_sequence:
                return broken(f"entry {expected_sequence} is missing"), count
            if entry.previous_hash != expected_previous:
                return broken("does not link to the entry before it"), count
            if keyed_seen and not keyed:
                # Unkeyed entries predate the key; one after a keyed entry was forged without it.
                return broken("content does not match its hash (the entry was altered)"), count
            if not hmac.compare_digest(entry_hash(entry, key), entry.entry_hash):
                return broken("content does not match its hash (the entry was altered)"), count
            if entry.event_id is not None and entry.event_digest is not None:
                found = current.get(entry.event_id)
                if found is None:
                    return broken(f"its event {entry.event_id} was removed from the event store"), count
                if found != entry.event_digest:
                    return broken(f"its event {entry.event_id} was altered in the event store"), count
            if mark is not None and entry.sequence == mark.sequence and entry.entry_hash != mark.entry_hash:
                return broken("differs from the entry the checkpoint recorded (the trail was rewritten)"), count
            keyed_seen = keyed_seen or keyed
            expected_previous = entry.entry_hash
            expected_sequence += 1
            last = entry
    last_sequence = last.sequence if last else 0
    if mark is not None and last_sequence < mark.sequence:
        problem = f"entries after this point were removed (the checkpoint recorded {mark.sequence})"
        return BrokenLink(head.tenant_id, None, last_sequence + 1, problem), count
    if last_sequence != head.sequence or expected_previous != head.entry_hash:
        return (
            BrokenLink(head.tenant_id, None, last_sequence + 1, "entries after this point were removed"),
            count,
        )
    if keyed_seen and (
        head.signature is None
        or not hmac.compare_digest(head.signature, head_signature(key, head.tenant_id, head.sequence, head.entry_hash))
    ):
        problem = "the chain head was moved without the audit key (newest entries removed and the head rewound)"
        return BrokenLink(head.tenant_id, None, last_sequence + 1, problem), count
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
