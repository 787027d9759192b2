"""Appending to, reading and verifying the audit trail."""

from __future__ import annotations

import hmac
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.audit import repository
from seqtrack.audit.chain import GENESIS_HASH, KEYED_VERSION, LEGACY_VERSION, audit_key, entry_hash, head_signature
from seqtrack.audit.models import AuditChainHead, AuditEntry
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import before_commit, database_of
from seqtrack.platform.integrity import event_digests
from seqtrack.platform.jsontext import JsonText
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
    changes: dict[str, Any] | JsonText,
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
        sequence, entry_hash_before = await repository.claim_sequences(session, tenant_id, len(entries))
        sequence -= len(entries)
        for entry in entries:
            sequence += 1
            entry["sequence"] = sequence
            entry["hash_version"] = KEYED_VERSION
            entry["previous_hash"] = entry_hash_before
            entry["entry_hash"] = entry_hash_before = entry_hash(entry, key)
        await repository.add_entries(session, entries)
        signature = head_signature(key, tenant_id, sequence, entry_hash_before)
        await repository.move_head(session, tenant_id, entry_hash_before, signature)
    return len(pending)


def _key_of(session: AsyncSession) -> bytes:
    database = database_of(session)
    if database is None:
        raise RuntimeError("the audit key comes from the settings of a Database's session")
    return audit_key(database.settings)


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
    heads = await repository.chain_heads(session, tenant_id)
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
    return [
        Checkpoint(head.tenant_id, head.sequence, head.entry_hash) for head in await repository.chain_heads(session)
    ]


async def _verify_tenant(
    session: AsyncSession, head: AuditChainHead, key: bytes, mark: Checkpoint | None
) -> tuple[BrokenLink | None, int]:
    digests_of = event_digests()
    expected_previous = GENESIS_HASH
    expected_sequence = 1
    keyed_seen = False
    last: AuditEntry | None = None
    count = 0
    async for batch in repository.chain_in_batches(session, head.tenant_id, VERIFY_BATCH):
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


async def list_entries(
    session: AsyncSession,
    actor: Actor,
    filters: repository.TrailFilters,
    *,
    order: Literal["asc", "desc"],
    cursor: str | None,
    limit: int,
) -> tuple[list[AuditEntry], str | None]:
    """One page of the caller's facility's trail: never another facility's, whatever the filters say."""
    return await repository.page(session, actor.tenant_id, filters, order=order, cursor=cursor, limit=limit)


async def entity_trail(
    session: AsyncSession, tenant_id: uuid.UUID, entity_type: str, entity_id: uuid.UUID, limit: int = 200
) -> list[AuditEntry]:
    """One record's audit entries, oldest first (a record's detail page shows them)."""
    return await repository.entity_trail(session, tenant_id, entity_type, entity_id, limit)
