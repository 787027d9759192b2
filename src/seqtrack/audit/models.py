"""The audit trail: append-only, hash-chained per tenant."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from seqtrack.platform.models import Base, new_id, utcnow


class AuditEntry(Base):
    """Who did what, when, to which record, old → new, and why.

    ``entry_hash`` covers the canonical content and ``previous_hash``, so editing
    or removing any entry breaks every link after it.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sequence"),
        Index("ix_audit_entries_entity", "tenant_id", "entity_type", "entity_id"),
        Index("ix_audit_entries_tenant_time", "tenant_id", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID]
    sequence: Mapped[int]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[uuid.UUID | None]
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_display: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(80))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID | None]
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    event_id: Mapped[uuid.UUID | None]
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    # 1: plain SHA-256 (entries from before the audit key); 2: HMAC under the audit key.
    hash_version: Mapped[int] = mapped_column(default=2, server_default="1")
    # SHA-256 of the event's content as recorded (version 2), covered by entry_hash.
    event_digest: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """The newest link of a tenant's chain; its row lock serialises appends."""

    __tablename__ = "audit_chain_heads"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sequence: Mapped[int]
    entry_hash: Mapped[str] = mapped_column(String(64))
    # HMAC of (tenant, sequence, entry_hash) under the audit key: a rewound head does not match it.
    signature: Mapped[str | None] = mapped_column(String(64))
