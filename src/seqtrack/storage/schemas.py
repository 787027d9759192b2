"""Request and response bodies of the storage API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from seqtrack.platform.schemas import Incoming as PlatformIncoming
from seqtrack.storage.rules import MAX_COLUMNS, MAX_ROWS, ContainerKind, UnitKind, Zone

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PlaceName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
OptionalReason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
PositionText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=4)]


class Incoming(PlatformIncoming):
    """A request body: unknown fields refused, unstorable text refused (platform rule)."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- hierarchy


class UnitCreate(Incoming):
    name: Name
    kind: UnitKind
    zone: Zone
    building: PlaceName | None = None
    room: PlaceName | None = None


class ContainerCreate(Incoming):
    """A container inside a unit (``unit_id``) or inside another container (``parent_id``)."""

    name: Name
    kind: ContainerKind
    unit_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = None
    rows: int | None = Field(None, ge=1, le=MAX_ROWS, description="Boxes and plates: rows of the grid (A, B, …).")
    columns: int | None = Field(None, ge=1, le=MAX_COLUMNS, description="Boxes and plates: columns (1, 2, …).")

    @model_validator(mode="after")
    def _one_home(self) -> ContainerCreate:
        if (self.unit_id is None) == (self.parent_id is None):
            raise ValueError("give exactly one of unit_id (directly in a unit) or parent_id (inside a container)")
        return self


class Counts(BaseModel):
    capacity: int = Field(description="Positions in grids at or below this level.")
    occupied: int = Field(description="Positions holding a sample, including checked-out ones.")
    checked_out: int
    reserved: int
    free: int
    utilisation: float = Field(description="(occupied + reserved) / capacity, 0 when there are no positions.")


class ContainerNode(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    kind: ContainerKind
    rows: int | None
    columns: int | None
    counts: Counts
    children: list[ContainerNode]


class UnitOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    kind: UnitKind
    zone: Zone
    building: str | None
    room: str | None
    version: int
    created_at: datetime
    counts: Counts
    children: list[ContainerNode]


class ContainerOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    kind: ContainerKind
    unit_id: uuid.UUID
    parent_id: uuid.UUID | None
    rows: int | None
    columns: int | None
    path: str
    version: int
    created_at: datetime


class UnitList(BaseModel):
    items: list[UnitOut]


# ---------------------------------------------------------------- locations and placements


class Location(BaseModel):
    unit_id: uuid.UUID
    unit_name: str
    zone: Zone
    container_id: uuid.UUID
    container_code: str
    container_name: str
    position: str
    position_code: str
    path: str = Field(description="Unit › containers › position, as a person reads it.")


PlacementState = Literal["occupied", "checked_out", "reserved"]


class PlacementOut(BaseModel):
    sample_id: uuid.UUID | None
    human_id: str | None
    state: PlacementState
    location: Location
    placed_at: datetime
    placed_by: str
    reservation_id: uuid.UUID | None
    reserved_until: datetime | None
    checked_out_by: str | None
    checked_out_at: datetime | None
    due_back_at: datetime | None
    overdue: bool


class PlacementIn(Incoming):
    sample_id: uuid.UUID
    container_id: uuid.UUID
    position: PositionText
    reservation_id: uuid.UUID | None = Field(None, description="Fill a position reserved for this reservation.")
    reason: OptionalReason | None = None


class MoveItem(Incoming):
    sample_id: uuid.UUID
    container_id: uuid.UUID
    position: PositionText


class MovesIn(Incoming):
    moves: list[MoveItem] = Field(min_length=1, max_length=1000)
    reason: Reason


class MovesOut(BaseModel):
    moved: list[PlacementOut]


class RemovalIn(Incoming):
    sample_id: uuid.UUID
    reason: Reason


class FillIn(Incoming):
    sample_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    start_at: PositionText | None = Field(None, description="First position to consider; A1 when not given.")
    reason: OptionalReason | None = None


class PlacementsOut(BaseModel):
    placed: list[PlacementOut]


class CheckOutIn(Incoming):
    sample_id: uuid.UUID
    reason: OptionalReason | None = None
    hours: float | None = Field(None, gt=0, le=24 * 90, description="Due back after this long; facility default.")


class CheckInIn(Incoming):
    sample_id: uuid.UUID


class CustodyEntry(BaseModel):
    event: str
    occurred_at: datetime
    actor_display: str
    actor_id: uuid.UUID | None
    reason: str | None
    from_location: Location | None
    to_location: Location | None
    audit_event_id: uuid.UUID


class CustodyOut(BaseModel):
    sample_id: uuid.UUID
    human_id: str
    current: PlacementOut | None
    entries: list[CustodyEntry]


# ---------------------------------------------------------------- views


class GridSample(BaseModel):
    id: uuid.UUID
    human_id: str
    barcode: str | None
    name: str
    sample_type: str
    status: str


CellState = Literal["free", "occupied", "checked_out", "reserved"]


class GridCell(BaseModel):
    position: str
    row: int
    column: int
    code: str
    state: CellState
    sample: GridSample | None
    reservation_id: uuid.UUID | None
    reserved_until: datetime | None
    checked_out_by: str | None
    due_back_at: datetime | None
    overdue: bool


class GridOut(BaseModel):
    container: ContainerOut
    zone: Zone
    counts: Counts
    cells: list[GridCell]


class WhereItem(BaseModel):
    sample: GridSample
    placement: PlacementOut | None


class WhereOut(BaseModel):
    items: list[WhereItem]


class FreePosition(BaseModel):
    container_id: uuid.UUID
    container_code: str
    position: str
    position_code: str
    path: str


class FreePositionsOut(BaseModel):
    items: list[FreePosition]


class ZoneUtilisation(BaseModel):
    zone: Zone
    capacity: int
    used: int
    free: int
    utilisation: float


class CapacityOut(BaseModel):
    zones: list[ZoneUtilisation]


# ---------------------------------------------------------------- reservations, check-outs, settings


class ReservationIn(Incoming):
    reference: Name = Field(description="What the positions are held for, e.g. a submission's ID.")
    count: int = Field(ge=1, le=1000)
    zone: Zone | None = None
    container_id: uuid.UUID | None = Field(None, description="Reserve in this box only.")
    contiguous: bool = False
    hours: float | None = Field(None, gt=0, le=24 * 90, description="Expires after this long; facility default.")


class ReservationOut(BaseModel):
    id: uuid.UUID
    reference: str
    zone: Zone | None
    count: int
    expires_at: datetime
    released_at: datetime | None
    positions: list[FreePosition]


class ReleaseIn(Incoming):
    reason: OptionalReason | None = None


class CheckOutList(BaseModel):
    items: list[PlacementOut]


class SettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    zone_rules: dict[str, Zone] = Field(description="Sample type → the warmest zone it may be kept in.")
    warning_ratio: float
    critical_ratio: float
    checkout_hours: float
    reservation_hours: float
    version: int


class SettingsUpdate(Incoming):
    zone_rules: dict[str, Zone | None] | None = Field(
        None, description="Sample type → warmest allowed zone; null lifts the rule for that type."
    )
    warning_ratio: float | None = Field(None, gt=0, le=1)
    critical_ratio: float | None = Field(None, gt=0, le=1)
    checkout_hours: float | None = Field(None, gt=0, le=24 * 90)
    reservation_hours: float | None = Field(None, gt=0, le=24 * 90)


# ---------------------------------------------------------------- scan


class ScanOut(BaseModel):
    code: str
    kind: Literal["sample", "unit", "container", "position"]
    sample: GridSample | None = None
    placement: PlacementOut | None = None
    unit: UnitOut | None = None
    container: ContainerOut | None = None
    position: str | None = None
    cell: GridCell | None = None


# ---------------------------------------------------------------- rack scans

RackScanStatus = Literal[
    "match", "empty", "wrong_tube", "unexpected_tube", "missing_tube", "unknown_barcode", "unreadable"
]


class RackScanRow(BaseModel):
    row: int = Field(description="Row number in the file.")
    position: str
    barcode: str | None
    status: RackScanStatus
    found: GridSample | None = Field(description="The sample the scanned barcode names, if any.")
    expected: GridSample | None = Field(description="The sample storage records in this position.")
    found_at: str | None = Field(description="Where storage records the scanned tube now.")


class RackScanPreview(BaseModel):
    container_id: uuid.UUID
    rack_barcode: str | None
    scanned: int
    token: str = Field(description="Send back with the same file to confirm: ?token=…")
    rows: list[RackScanRow]
    mismatches: list[RackScanRow]


class RackScanApplied(BaseModel):
    container_id: uuid.UUID
    placed: int
    moved: int
    removed: int
    skipped: list[RackScanRow]
