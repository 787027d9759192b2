"""Instruments, flow cells, libraries, pools, runs and their per-barcode results.

Samples belong to the samples domain: a library keeps a sample's id and its
human ID as it was when the library was made, never a key into the samples table.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from seqtrack.platform.models import (
    Base,
    FacilityRecord,
    FacilitySettings,
    IdMixin,
    keyset_indexes,
    lookup_indexes,
)

__all__ = [
    "BarcodeResult",
    "FlowCell",
    "Instrument",
    "Library",
    "LibrarySample",
    "Pool",
    "PoolLibrary",
    "Run",
    "SequencingSettings",
]

# MinKNOW takes at most 40 letters, digits, '-' and '_' for the names a sample sheet carries.
MinknowName = Annotated[str, mapped_column(String(40))]
# A code from the catalogue (catalog.py): an instrument model, a flow cell type, a kit.
CatalogCode = Annotated[str, mapped_column(String(32))]


class SequencingSettings(FacilitySettings):
    """A tenant's sequencing rules; the catalog's defaults until someone edits them."""

    __tablename__ = "sequencing_settings"

    warranty_pores: Mapped[dict[str, int]] = mapped_column(JSON)


class Instrument(FacilityRecord):
    __tablename__ = "sequencing_instruments"
    __table_args__ = (UniqueConstraint("tenant_id", "name"), *keyset_indexes(__tablename__, created="created_at"))

    name: Mapped[str] = mapped_column(String(100))
    model: Mapped[CatalogCode]
    serial: Mapped[str | None] = mapped_column(String(64))


class FlowCell(FacilityRecord):
    __tablename__ = "sequencing_flow_cells"
    __table_args__ = (
        UniqueConstraint("tenant_id", "serial"),
        *keyset_indexes(__tablename__, created="created_at", state="state"),
    )

    # The ID printed on the flow cell (FAX12345, PAW67890): MinKNOW reports data under it.
    serial: Mapped[str] = mapped_column(String(32))
    product_code: Mapped[CatalogCode]
    lot: Mapped[str | None] = mapped_column(String(64))
    expiry_date: Mapped[date | None]
    state: Mapped[str] = mapped_column(String(16))
    pore_count: Mapped[int | None] = mapped_column(Integer)
    checked_at: Mapped[datetime | None]
    runs_started: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str | None] = mapped_column(Text)


class Library(FacilityRecord):
    __tablename__ = "sequencing_libraries"
    __table_args__ = (UniqueConstraint("tenant_id", "name"), *keyset_indexes(__tablename__, created="created_at"))

    name: Mapped[MinknowName]
    kit: Mapped[CatalogCode]
    barcode: Mapped[str | None] = mapped_column(String(16))


class LibrarySample(Base):
    __tablename__ = "sequencing_library_samples"
    __table_args__ = (Index("ix_sequencing_library_samples_sample", "tenant_id", "sample_id"),)

    library_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sequencing_libraries.id"), primary_key=True)
    sample_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    sample_human_id: Mapped[str] = mapped_column(String(40))


class Pool(FacilityRecord):
    __tablename__ = "sequencing_pools"
    __table_args__ = (UniqueConstraint("tenant_id", "name"), *keyset_indexes(__tablename__, created="created_at"))

    name: Mapped[MinknowName]


class PoolLibrary(Base):
    __tablename__ = "sequencing_pool_libraries"
    __table_args__ = (Index("ix_sequencing_pool_libraries_library", "library_id"),)

    pool_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sequencing_pools.id"), primary_key=True)
    library_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sequencing_libraries.id"), primary_key=True)


class Run(FacilityRecord):
    __tablename__ = "sequencing_runs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "experiment_id"),
        *keyset_indexes(__tablename__, created="created_at"),
        *lookup_indexes(__tablename__, flow_cell="flow_cell_id", pool="pool_id"),
    )

    experiment_id: Mapped[MinknowName]
    instrument_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sequencing_instruments.id"))
    position: Mapped[str] = mapped_column(String(8))
    flow_cell_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sequencing_flow_cells.id"))
    pool_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sequencing_pools.id"))
    state: Mapped[str] = mapped_column(String(16))
    state_reason: Mapped[str | None] = mapped_column(Text)
    basecalling_model: Mapped[str | None] = mapped_column(String(128))
    run_length_hours: Mapped[float] = mapped_column(Float)
    min_read_length: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    results_imported_at: Mapped[datetime | None]
    # The whole run's figures from the last import (None until one).
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class BarcodeResult(IdMixin, Base):
    """One barcode's figures in one run; a barcode nobody pooled keeps its row, with no library."""

    __tablename__ = "sequencing_barcode_results"
    __table_args__ = (
        UniqueConstraint("run_id", "barcode"),
        Index("ix_sequencing_barcode_results_library", "library_id"),
    )

    tenant_id: Mapped[uuid.UUID]
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sequencing_runs.id"))
    # MinKNOW's name (barcode05), or "unclassified" for reads no barcode was found in.
    barcode: Mapped[str] = mapped_column(String(32))
    library_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sequencing_libraries.id"))
    reads: Mapped[int] = mapped_column(BigInteger)
    bases: Mapped[int] = mapped_column(BigInteger)
    pass_reads: Mapped[int] = mapped_column(BigInteger)
    pass_bases: Mapped[int] = mapped_column(BigInteger)
    n50: Mapped[int] = mapped_column(BigInteger)
    mean_qscore: Mapped[float] = mapped_column(Float)
    pass_rate: Mapped[float] = mapped_column(Float)
