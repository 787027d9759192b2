"""Request and response bodies of the sequencing API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from seqtrack.platform.schemas import Incoming as PlatformIncoming
from seqtrack.samples.schemas import SignatureIn
from seqtrack.sequencing.catalog import FLOW_CELL_TYPES, INSTRUMENT_MODELS, KITS
from seqtrack.sequencing.lifecycle import FlowCellState, RunState


class Incoming(PlatformIncoming):
    model_config = ConfigDict(extra="forbid")


def _known(table: dict[str, Any], what: str) -> Any:
    def check(value: str) -> str:
        if value not in table:
            raise ValueError(f"unknown {what}; known: {', '.join(sorted(table))}")
        return value

    return check


def _upper(value: str) -> str:
    return value.upper()


# MinKNOW accepts only letters, digits, '-' and '_' (at most 40) in a sample sheet's
# experiment_id, sample_id and alias: names that end up there are held to it from the start.
MinknowName = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_-]{1,40}$")]
ProductCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=32),
    AfterValidator(_upper),
    AfterValidator(_known(FLOW_CELL_TYPES, "flow cell product code")),
]
KitCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=32),
    AfterValidator(_upper),
    AfterValidator(_known(KITS, "kit")),
]
ModelCode = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_known(INSTRUMENT_MODELS, "model"))]
BarcodeName = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{2}[0-9]{2}$"), AfterValidator(_upper)
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


# ---------------------------------------------------------------- catalog


class KitOut(BaseModel):
    code: str
    name: str
    chemistry: str
    adapter: str
    barcodes: list[str]


class FlowCellTypeOut(BaseModel):
    product_code: str
    name: str
    chemistry: str
    warranty_pores: int


class InstrumentModelOut(BaseModel):
    code: str
    name: str
    vendor: str
    positions: list[str]
    flow_cell_types: list[str]


class CatalogOut(BaseModel):
    kits: list[KitOut]
    flow_cell_types: list[FlowCellTypeOut]
    instrument_models: list[InstrumentModelOut]


# ---------------------------------------------------------------- settings


class SettingsOut(BaseModel):
    warranty_pores: dict[str, int]
    version: int
    updated_at: datetime


class SettingsUpdate(Incoming):
    warranty_pores: dict[ProductCode, Annotated[int, Field(ge=0, le=20_000)]]


# ---------------------------------------------------------------- instruments


class InstrumentIn(Incoming):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    model: ModelCode
    serial: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None


class PositionOut(BaseModel):
    name: str
    running_run_id: uuid.UUID | None = None
    running_experiment_id: str | None = None


class InstrumentOut(BaseModel):
    id: uuid.UUID
    name: str
    model: str
    model_name: str
    vendor: str
    serial: str | None
    positions: list[PositionOut]
    flow_cell_types: list[str]
    version: int
    created_at: datetime


# ---------------------------------------------------------------- flow cells


class FlowCellIn(Incoming):
    serial: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9]{3,32}$"), AfterValidator(_upper)
    ]
    product_code: ProductCode
    lot: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    expiry_date: date | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None


class FlowCellCheckIn(Incoming):
    pore_count: int = Field(ge=0, le=20_000, description="Available pores reported by the platform check.")


class FlowCellMoveIn(Incoming):
    to: FlowCellState
    reason: Reason | None = None


class FlowCellOut(BaseModel):
    id: uuid.UUID
    serial: str
    product_code: str
    lot: str | None
    expiry_date: date | None
    expired: bool
    state: FlowCellState
    pore_count: int | None
    checked_at: datetime | None
    warranty_pores: int | None
    below_warranty: bool
    runs_started: int
    notes: str | None
    version: int
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------- libraries and pools


class LibraryIn(Incoming):
    name: MinknowName
    kit: KitCode
    barcode: BarcodeName | None = None
    sample_ids: list[uuid.UUID] = Field(min_length=1, max_length=96)


class SampleRef(BaseModel):
    id: uuid.UUID
    human_id: str


class LibraryOut(BaseModel):
    id: uuid.UUID
    name: str
    kit: str
    barcode: str | None
    samples: list[SampleRef]
    version: int
    created_at: datetime


class PoolIn(Incoming):
    name: MinknowName
    library_ids: list[uuid.UUID] = Field(default_factory=list, max_length=96)
    libraries: list[LibraryIn] = Field(
        default_factory=list, max_length=96, description="New libraries made with the pool."
    )

    @model_validator(mode="after")
    def _not_empty(self) -> PoolIn:
        if not self.library_ids and not self.libraries:
            raise ValueError("a pool needs at least one library (library_ids or libraries)")
        return self


class PoolCheckIn(Incoming):
    library_ids: list[uuid.UUID] = Field(default_factory=list, max_length=96)
    libraries: list[LibraryIn] = Field(default_factory=list, max_length=96)
    flow_cell_id: uuid.UUID | None = None


class PoolProblem(BaseModel):
    kind: str
    message: str
    libraries: list[dict[str, Any]] = Field(default_factory=list)
    barcode: str | None = None
    kits: list[str] | None = None


class PoolCheckOut(BaseModel):
    ok: bool
    problems: list[PoolProblem]


class PoolOut(BaseModel):
    id: uuid.UUID
    name: str
    libraries: list[LibraryOut]
    version: int
    created_at: datetime


# ---------------------------------------------------------------- runs


class RunIn(Incoming):
    experiment_id: MinknowName
    instrument_id: uuid.UUID
    position: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8)]
    flow_cell_id: uuid.UUID
    pool_id: uuid.UUID
    basecalling_model: Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] | None = None
    run_length_hours: float = Field(72, gt=0, le=168)
    min_read_length: int = Field(200, ge=20, le=1_000_000)


class RunMoveIn(Incoming):
    to: RunState
    reason: Reason | None = None
    signature: SignatureIn | None = Field(
        None, description="Starting a run releases its samples to sequencing, which the facility may require signed."
    )


class Named(BaseModel):
    id: uuid.UUID
    name: str


class RunFlowCell(BaseModel):
    id: uuid.UUID
    serial: str
    product_code: str


class RunMetrics(BaseModel):
    reads: int
    bases: int
    pass_reads: int
    pass_bases: int
    n50: int
    mean_qscore: float
    pass_rate: float


class RunOut(BaseModel):
    id: uuid.UUID
    experiment_id: str
    instrument: Named
    position: str
    flow_cell: RunFlowCell
    pool: Named
    state: RunState
    state_reason: str | None
    basecalling_model: str | None
    run_length_hours: float
    min_read_length: int
    started_at: datetime | None
    ended_at: datetime | None
    results_imported_at: datetime | None
    metrics: RunMetrics | None
    version: int
    created_at: datetime


class BarcodeResultOut(RunMetrics):
    barcode: str
    known: bool
    library: Named | None
    samples: list[SampleRef]


class RunResultsOut(BaseModel):
    run: RunOut
    barcodes: list[BarcodeResultOut]
    unknown_barcodes: list[str]
    samples_moved_to_analysis: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------- lineage


class LineageRun(BaseModel):
    id: uuid.UUID
    experiment_id: str
    state: RunState
    started_at: datetime | None
    ended_at: datetime | None
    flow_cell: RunFlowCell
    result: RunMetrics | None


class LineagePool(BaseModel):
    id: uuid.UUID
    name: str
    runs: list[LineageRun]


class LineageLibrary(BaseModel):
    id: uuid.UUID
    name: str
    kit: str
    barcode: str | None
    shared_with: list[str] = Field(description="Other samples in this library; its barcode's yield is theirs too.")
    pools: list[LineagePool]


class SampleYield(BaseModel):
    runs: int
    reads: int
    bases: int
    pass_bases: int


class LineageOut(BaseModel):
    sample: SampleRef
    status: str
    libraries: list[LineageLibrary]
    total: SampleYield
