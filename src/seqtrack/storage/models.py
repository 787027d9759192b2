"""Storage units, the containers nested in them, and what holds each grid position."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from seqtrack.platform.models import (
    Base,
    FacilityRecord,
    FacilitySettings,
    IdMixin,
    OptimisticLock,
    lookup_indexes,
    utcnow,
)

__all__ = ["Placement", "Reservation", "StorageContainer", "StorageSettings", "StorageUnit"]


class StorageUnit(FacilityRecord):
    """A freezer, fridge, dewar, cabinet or room: where a temperature zone is kept."""

    __tablename__ = "storage_units"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        Index("ix_storage_units_tenant_zone", "tenant_id", "zone"),
    )

    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    zone: Mapped[str] = mapped_column(String(16))
    building: Mapped[str | None] = mapped_column(String(200))
    room: Mapped[str | None] = mapped_column(String(200))


class StorageContainer(FacilityRecord):
    """A shelf, rack, drawer, box or plate; boxes and plates have a grid of positions."""

    __tablename__ = "storage_containers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        *lookup_indexes(__tablename__, unit="unit_id", parent="parent_id"),
    )

    # The unit is kept on every container, however deep, so a zone's capacity is one join away.
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("storage_units.id"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("storage_containers.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int | None] = mapped_column(Integer)
    columns: Mapped[int | None] = mapped_column(Integer)


class Placement(OptimisticLock, IdMixin, Base):
    """What holds one grid position: a sample (in place or checked out) or a reservation.

    The unique constraint on (container, position) is what decides a race between
    two technicians placing into the same position: one insert wins, the other
    gets 409. A sample is in at most one position at a time.
    """

    __tablename__ = "storage_placements"
    __table_args__ = (
        UniqueConstraint("container_id", "position"),
        UniqueConstraint("sample_id"),
        Index("ix_storage_placements_tenant_state", "tenant_id", "state"),
        Index("ix_storage_placements_reservation", "reservation_id"),
    )

    tenant_id: Mapped[uuid.UUID]
    container_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("storage_containers.id"))
    position: Mapped[str] = mapped_column(String(8))
    row_index: Mapped[int] = mapped_column(Integer)
    column_index: Mapped[int] = mapped_column(Integer)
    sample_id: Mapped[uuid.UUID | None]
    # occupied, checked_out (position kept for the sample) or reserved (no sample yet)
    state: Mapped[str] = mapped_column(String(16))
    reservation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("storage_reservations.id"))
    # A reservation's expiry, kept on its positions so a grid or a count needs no join.
    reserved_until: Mapped[datetime | None]
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    placed_by: Mapped[str] = mapped_column(String(320))
    checked_out_by: Mapped[str | None] = mapped_column(String(320))
    checked_out_by_id: Mapped[uuid.UUID | None]
    checked_out_at: Mapped[datetime | None]
    due_back_at: Mapped[datetime | None]


class Reservation(IdMixin, Base):
    """Positions held for an incoming submission until it arrives or the hold expires."""

    __tablename__ = "storage_reservations"
    __table_args__ = (Index("ix_storage_reservations_tenant", "tenant_id", "expires_at"),)

    tenant_id: Mapped[uuid.UUID]
    reference: Mapped[str] = mapped_column(String(200))
    zone: Mapped[str | None] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer)


class StorageSettings(FacilitySettings):
    """A tenant's storage rules; the facility defaults until someone edits them."""

    __tablename__ = "storage_settings"

    # sample type -> the warmest zone it may be kept in
    zone_rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    warning_ratio: Mapped[float] = mapped_column(Float)
    critical_ratio: Mapped[float] = mapped_column(Float)
    checkout_hours: Mapped[float] = mapped_column(Float)
    reservation_hours: Mapped[float] = mapped_column(Float)
