"""The append-only event store and the transactional outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from seqtrack.platform.models import Base, new_id, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT.
Position = BigInteger().with_variant(Integer(), "sqlite")


class EventRecord(Base):
    """One domain event. Never updated or deleted (PostgreSQL triggers enforce it)."""

    __tablename__ = "events"
    __table_args__ = (
        # Two writers that both read version N cannot both append N+1.
        UniqueConstraint("aggregate_type", "aggregate_id", "version"),
        Index("ix_events_tenant_position", "tenant_id", "position"),
    )

    position: Mapped[int] = mapped_column(Position, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=new_id)
    tenant_id: Mapped[uuid.UUID]
    aggregate_type: Mapped[str] = mapped_column(String(40))
    aggregate_id: Mapped[uuid.UUID]
    version: Mapped[int]
    type: Mapped[str] = mapped_column(String(80))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor_id: Mapped[uuid.UUID | None]
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_display: Mapped[str] = mapped_column(String(320))
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """An event waiting to leave the process.

    A database trigger adds the row with its event (migration 0005), so the two
    commit together and the write path sends one statement for both. The row
    refers to the event; the relay reads the event itself when it publishes.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "published_at", "position"),)

    position: Mapped[int] = mapped_column(Position, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    tenant_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class ProcessedEvent(Base):
    """An event a consumer has applied; written in the same transaction as the effect.

    The relay delivers at least once, so a redelivered event finds its row here
    and is skipped: each consumer applies each event once.
    """

    __tablename__ = "processed_events"
    __table_args__ = (UniqueConstraint("consumer", "event_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    consumer: Mapped[str] = mapped_column(String(80))
    event_id: Mapped[uuid.UUID]
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)
