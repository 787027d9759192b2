"""Request and response bodies of the samples API."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    computed_field,
    field_validator,
)

from seqtrack.platform.schemas import Incoming as PlatformIncoming
from seqtrack.samples.lifecycle import SampleStatus, is_overdue, turnaround_hours


def _not_null(value: Any, message: str) -> Any:
    """A field a change may leave out but not send as null (null would clear what must stay set)."""
    if value is None:
        raise ValueError(message)
    return value


class SampleType(StrEnum):
    GENOMIC_DNA = "genomic_dna"
    HMW_DNA = "hmw_dna"
    TOTAL_RNA = "total_rna"
    MRNA = "mrna"
    CDNA = "cdna"
    AMPLICON = "amplicon"
    LIBRARY = "library"
    OTHER = "other"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class StepStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


class QcKind(StrEnum):
    A260_280 = "a260_280"
    A260_230 = "a260_230"
    CONCENTRATION = "concentration"
    VOLUME = "volume"
    FRAGMENT_SIZE = "fragment_size"
    DIN = "din"
    RIN = "rin"


class Judgement(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


class SignatureMeaning(StrEnum):
    REVIEWED = "reviewed"
    APPROVED = "approved"
    RELEASED = "released"


Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def _flow_cell_type(value: str) -> str:
    # Written by hand as "flo-min114" as often as "FLO-MIN114"; stored in ONT's own spelling.
    value = value.upper()
    if re.fullmatch(r"[A-Z0-9][A-Z0-9.\-]{1,31}", value) is None:
        raise ValueError("expected a flow cell product code such as FLO-MIN114")
    return value


FlowCellType = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32), AfterValidator(_flow_cell_type)]
Barcode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class Incoming(PlatformIncoming):
    """A request body: unknown fields refused, unstorable text refused (platform rule)."""

    model_config = ConfigDict(extra="forbid")


class SampleFields(Incoming):
    """Fields a client may set; shared by create and update with the same ranges."""

    barcode: Barcode | None = None
    lab_id: uuid.UUID | None = None
    project: Text200 | None = None
    submitter_id: uuid.UUID | None = None
    submitter_name: Text200 | None = None
    organism: Text200 | None = None
    genome_size_bp: int | None = Field(default=None, ge=1_000, le=200_000_000_000)
    concentration_ng_ul: float | None = Field(default=None, ge=0.001, le=10_000)
    volume_ul: float | None = Field(default=None, ge=0.1, le=1_000)
    buffer: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    a260_280: float | None = Field(default=None, ge=0.1, le=5)
    a260_230: float | None = Field(default=None, ge=0.01, le=5)
    fragment_size_bp: int | None = Field(default=None, ge=10, le=10_000_000)
    integrity_number: float | None = Field(default=None, ge=1, le=10, description="DIN or RIN, 1–10")
    flow_cell_type: FlowCellType | None = None
    flow_cell_count: int | None = Field(default=None, ge=1, le=48)
    library_kit: Code | None = None
    barcoding_kit: Code | None = None
    library_barcode: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    basecalling_model: Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] | None = None
    due_date: date | None = None
    billing_code: Code | None = None
    assigned_to: uuid.UUID | None = None
    notes: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    data_location: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class SampleCreate(SampleFields):
    name: Text200
    sample_type: SampleType
    priority: Priority = Priority.NORMAL


class SampleUpdate(SampleFields):
    """Only the fields sent are changed; send null to clear an optional field."""

    name: Text200 | None = None
    sample_type: SampleType | None = None
    priority: Priority | None = None

    @field_validator("name", "sample_type", "priority")
    @classmethod
    def _not_cleared(cls, value: Any) -> Any:
        return _not_null(value, "cannot be cleared")


class SampleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    human_id: str
    barcode: str | None
    name: str
    lab_id: uuid.UUID | None
    project: str | None
    submitter_id: uuid.UUID | None
    submitter_name: str | None
    sample_type: SampleType
    organism: str | None
    genome_size_bp: int | None
    concentration_ng_ul: float | None
    volume_ul: float | None
    buffer: str | None
    a260_280: float | None
    a260_230: float | None
    fragment_size_bp: int | None
    integrity_number: float | None
    flow_cell_type: str | None
    flow_cell_count: int | None
    library_kit: str | None
    barcoding_kit: str | None
    library_barcode: str | None
    basecalling_model: str | None
    priority: Priority
    due_date: date | None
    due_at: datetime
    billing_code: str | None
    assigned_to: uuid.UUID | None
    notes: str | None
    data_location: str | None
    status: SampleStatus
    held_from: SampleStatus | None
    status_reason: str | None
    status_changed_at: datetime
    received_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented use on a property
    @property
    def overdue(self) -> bool:
        return is_overdue(self.status, self.due_at, datetime.now(UTC))

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented use on a property
    @property
    def turnaround_hours(self) -> float:
        """Hours from receipt (or submission) to delivery, or to now while the sample is open."""
        return turnaround_hours(self.created_at, self.received_at, self.delivered_at, datetime.now(UTC))


class SignatureIn(Incoming):
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None
    meaning: SignatureMeaning | None = None


class TransitionIn(Incoming):
    to: SampleStatus
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    signature: SignatureIn | None = None


class BulkTransitionIn(TransitionIn):
    sample_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class BulkTransitionOut(BaseModel):
    to: SampleStatus
    changed: list[SampleOut]


class QcIn(Incoming):
    kind: QcKind
    value: float = Field(ge=0, le=10_000_000)
    unit: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] | None = None
    instrument: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    measured_at: datetime | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @field_validator("measured_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-01-31T14:00:00Z")
        return value


class QcOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sample_id: uuid.UUID
    kind: QcKind
    value: float
    unit: str
    instrument: str | None
    judgement: Judgement
    measured_by: uuid.UUID | None
    measured_by_display: str
    measured_at: datetime
    notes: str | None


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sample_id: uuid.UUID
    position: int
    name: str
    expected_hours: float
    status: StepStatus
    assignee_id: uuid.UUID | None
    started_at: datetime | None
    finished_at: datetime | None
    notes: str | None


class StepUpdate(Incoming):
    status: StepStatus | None = None
    assignee_id: uuid.UUID | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status_is_a_state(cls, value: Any) -> Any:
        # Omitting status leaves it as it is; an explicit null names no state a step can be in.
        return _not_null(value, "a step's status cannot be null; leave the field out to keep the current status")


class StepTemplate(Incoming):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    expected_hours: float = Field(gt=0, le=24 * 60)
    state: SampleStatus | None = Field(
        default=None,
        description="The lifecycle state the step's work happens in: entering it starts the step, leaving it "
        "finishes it. Left out, a default step's usual state (by name), else none.",
    )


class Range(Incoming):
    """Bounds a value must stay within; null leaves that side open."""

    min: float | None = None
    max: float | None = None


class Threshold(Incoming):
    warn: Range
    fail: Range


class SettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id_prefix: str
    billing_code_pattern: str | None
    qc_thresholds: dict[QcKind, Threshold]
    step_template: list[StepTemplate]
    signed_transitions: list[str]
    turnaround_hours: dict[Priority, float]
    version: int
    updated_at: datetime


class SettingsUpdate(Incoming):
    id_prefix: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z][A-Z0-9]{1,11}$")] | None = None
    billing_code_pattern: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    qc_thresholds: dict[QcKind, Threshold] | None = None
    step_template: list[StepTemplate] | None = Field(default=None, min_length=1, max_length=50)
    signed_transitions: list[str] | None = None
    turnaround_hours: dict[Priority, Annotated[float, Field(gt=0, le=24 * 365)]] | None = None


SortField = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "human_id",
    "-human_id",
    "due",
    "-due",
    "priority",
    "-priority",
]
