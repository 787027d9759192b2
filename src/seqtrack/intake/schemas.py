"""Request and response bodies of the intake API."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from seqtrack.platform.schemas import Incoming as PlatformIncoming


class SubmissionState(StrEnum):
    DRAFT = "draft"
    VALIDATED = "validated"
    COMMITTING = "committing"
    COMMITTED = "committed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Incoming(PlatformIncoming):
    model_config = ConfigDict(extra="forbid")


class ColumnOut(BaseModel):
    column: str
    field: str | None
    unit: str | None = None
    factor: float = 1.0


class ProgressOut(BaseModel):
    phase: str
    rows_parsed: int
    rows_validated: int
    rows_total: int | None


class SubmissionOut(BaseModel):
    id: uuid.UUID
    state: SubmissionState
    source: str
    file_name: str | None
    file_sha256: str | None
    file_size: int | None
    lab_id: uuid.UUID | None
    project: str | None
    submitter_id: uuid.UUID | None
    submitter_display: str
    row_count: int
    error_count: int
    unconfirmed_count: int
    header_row: int | None
    mapping: list[ColumnOut]
    details: dict[str, Any]
    problems: list[dict[str, Any]]
    extractor: str | None
    progress: ProgressOut
    samples_created: int
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class RowError(BaseModel):
    row: int
    column: str
    field: str
    value: str
    message: str
    kind: str


class RowOut(BaseModel):
    row: int
    cells: list[str]
    values: dict[str, Any]
    errors: list[RowError]
    confidence: dict[str, dict[str, Any]]
    confirmed: list[str]
    needs_confirmation: list[str]


class PreviewOut(SubmissionOut):
    rows: list[RowOut]
    next_after: int | None


class RowCorrection(Incoming):
    """New cell values (as text or numbers; null clears) and readings a person confirms as right."""

    values: dict[str, str | float | int | None] = Field(default_factory=dict, max_length=64)
    confirm: list[str] = Field(default_factory=list, max_length=64)


class MappingChange(Incoming):
    """The field each named file column is read as (null: ignore the column); columns not named keep theirs."""

    columns: dict[Annotated[str, StringConstraints(max_length=255)], str | None] = Field(min_length=1, max_length=500)


class RejectIn(Incoming):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class OrderSample(Incoming):
    """One sample of the order form; checked with the same rules as a file's row."""

    name: Text200 | None = None
    sample_type: str | None = None
    organism: str | None = None
    concentration_ng_ul: float | str | None = None
    volume_ul: float | str | None = None
    buffer: str | None = None
    a260_280: float | str | None = None
    a260_230: float | str | None = None
    fragment_size_bp: int | str | None = None
    flow_cell_type: str | None = None
    library_kit: str | None = None
    barcoding_kit: str | None = None
    library_barcode: str | None = None
    barcode: str | None = None
    priority: str | None = None
    notes: str | None = None


class OrderIn(Incoming):
    lab_id: uuid.UUID | None = None
    project: Text200 | None = None
    billing_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    submitter_name: Text200 | None = None
    submitter_email: EmailStr | None = None
    samples: list[OrderSample] = Field(min_length=1, max_length=1000)


class SettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    confidence_threshold: float
    version: int


class SettingsUpdate(Incoming):
    confidence_threshold: float | None = Field(default=None, ge=0, le=1)
