"""Samples, their processing steps, QC measurements and per-tenant settings."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from seqtrack.platform.models import (
    Base,
    FacilityRecord,
    FacilitySettings,
    IdMixin,
    OptimisticLock,
    keyset_indexes,
    utcnow,
)

__all__ = ["ProcessingStep", "QcMeasurement", "Sample", "SampleCounter", "SampleSettings"]


class Sample(OptimisticLock, FacilityRecord):
    __tablename__ = "samples"
    __table_args__ = (
        UniqueConstraint("tenant_id", "human_id"),
        UniqueConstraint("tenant_id", "barcode"),
        # One index per list sort (repository.SORT_KEYS) and per filter.
        *keyset_indexes(__tablename__, created="created_at", updated="updated_at", number="number", due="due_at"),
        *keyset_indexes(__tablename__, priority="priority_rank", status="status", due_date="due_date", lab="lab_id"),
        *keyset_indexes(__tablename__, submitter="submitter_id", type="sample_type", assignee="assigned_to"),
        *keyset_indexes(__tablename__, flow_cell="flow_cell_type"),
        # The throughput and turnaround reports count a window of receipts and deliveries.
        Index("ix_samples_tenant_received", "tenant_id", "received_at"),
        Index("ix_samples_tenant_delivered", "tenant_id", "delivered_at"),
        # The state and overdue reports are counted from these alone, never the table's wide rows:
        # the facility's figures by state, and a submitter's by lab then state.
        Index("ix_samples_tenant_state_due", "tenant_id", "status", "priority", "due_at"),
        Index("ix_samples_tenant_lab_state_due", "tenant_id", "lab_id", "status", "priority", "due_at"),
        # A trigram GIN index on PostgreSQL makes substring search use an index;
        # SQLite gets a plain index it will not use for '%q%' (a full scan per tenant).
        Index(
            "ix_samples_search_text",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    number: Mapped[int]
    human_id: Mapped[str] = mapped_column(String(40))
    barcode: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    lab_id: Mapped[uuid.UUID | None]
    project: Mapped[str | None] = mapped_column(String(200))
    submitter_id: Mapped[uuid.UUID | None]
    submitter_name: Mapped[str | None] = mapped_column(String(200))
    sample_type: Mapped[str] = mapped_column(String(32))
    organism: Mapped[str | None] = mapped_column(String(200))
    genome_size_bp: Mapped[int | None] = mapped_column(BigInteger)
    concentration_ng_ul: Mapped[float | None] = mapped_column(Float)
    volume_ul: Mapped[float | None] = mapped_column(Float)
    buffer: Mapped[str | None] = mapped_column(String(100))
    a260_280: Mapped[float | None] = mapped_column(Float)
    a260_230: Mapped[float | None] = mapped_column(Float)
    fragment_size_bp: Mapped[int | None] = mapped_column(Integer)
    integrity_number: Mapped[float | None] = mapped_column(Float)
    flow_cell_type: Mapped[str | None] = mapped_column(String(32))
    flow_cell_count: Mapped[int | None] = mapped_column(Integer)
    library_kit: Mapped[str | None] = mapped_column(String(64))
    barcoding_kit: Mapped[str | None] = mapped_column(String(64))
    library_barcode: Mapped[str | None] = mapped_column(String(32))
    basecalling_model: Mapped[str | None] = mapped_column(String(128))
    priority: Mapped[str] = mapped_column(String(16))
    priority_rank: Mapped[int]
    due_date: Mapped[date | None]
    due_at: Mapped[datetime]
    billing_code: Mapped[str | None] = mapped_column(String(64))
    assigned_to: Mapped[uuid.UUID | None]
    notes: Mapped[str | None] = mapped_column(Text)
    data_location: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16))
    held_from: Mapped[str | None] = mapped_column(String(16))
    status_changed_at: Mapped[datetime]
    received_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    status_reason: Mapped[str | None] = mapped_column(Text)
    search_text: Mapped[str] = mapped_column(Text)


class ProcessingStep(IdMixin, Base):
    __tablename__ = "sample_steps"
    __table_args__ = (
        UniqueConstraint("sample_id", "position"),
        Index("ix_sample_steps_tenant_assignee", "tenant_id", "assignee_id"),
    )

    tenant_id: Mapped[uuid.UUID]
    sample_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("samples.id"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    expected_hours: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[uuid.UUID | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    notes: Mapped[str | None] = mapped_column(Text)


class QcMeasurement(IdMixin, Base):
    __tablename__ = "sample_qc"
    __table_args__ = (
        Index("ix_sample_qc_sample", "sample_id", "measured_at"),
        # The QC failure report counts a tenant's recent measurements.
        Index("ix_sample_qc_tenant_measured", "tenant_id", "measured_at"),
    )

    tenant_id: Mapped[uuid.UUID]
    sample_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("samples.id"))
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    instrument: Mapped[str | None] = mapped_column(String(100))
    judgement: Mapped[str] = mapped_column(String(8))
    measured_by: Mapped[uuid.UUID | None]
    measured_by_display: Mapped[str] = mapped_column(String(320))
    measured_at: Mapped[datetime] = mapped_column(default=utcnow)
    notes: Mapped[str | None] = mapped_column(Text)


class SampleSettings(FacilitySettings):
    """A tenant's sample rules; created with the facility defaults on first use."""

    __tablename__ = "sample_settings"

    id_prefix: Mapped[str] = mapped_column(String(16))
    billing_code_pattern: Mapped[str | None] = mapped_column(String(500))
    qc_thresholds: Mapped[dict[str, Any]] = mapped_column(JSON)
    step_template: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    signed_transitions: Mapped[list[str]] = mapped_column(JSON)
    turnaround_hours: Mapped[dict[str, float]] = mapped_column(JSON)


class SampleCounter(Base):
    """The last sample number a tenant handed out; its row lock orders concurrent creations."""

    __tablename__ = "sample_counters"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    last_number: Mapped[int]
