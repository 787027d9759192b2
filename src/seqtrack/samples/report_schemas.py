"""What the facility reports say: the shapes of /api/v1/reports/... (JSON and CSV alike)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.schemas import Priority, QcKind, SampleType


class StateCount(BaseModel):
    state: SampleStatus
    samples: int


class SamplesByState(BaseModel):
    """Every lifecycle state with how many samples are in it now (zero included)."""

    total: int
    states: list[StateCount]


class OverdueByPriority(BaseModel):
    priority: Priority
    target_hours: float = Field(description="The facility's turnaround target for this priority.")
    open: int = Field(description="Samples still owed to the submitter (active or on hold).")
    overdue: int = Field(description="Open samples past their due time.")
    oldest_due_at: datetime | None = Field(description="The earliest due time among the overdue ones.")


class OverdueReport(BaseModel):
    """Open samples against their turnaround targets, by priority, as of ``as_of``."""

    as_of: datetime
    open: int
    overdue: int
    priorities: list[OverdueByPriority]


class ThroughputDay(BaseModel):
    date: date
    received: int = Field(description="Samples received at the facility that day (UTC).")
    delivered: int = Field(description="Samples whose data was delivered that day (UTC).")


class ThroughputReport(BaseModel):
    """Samples in and out on each day of one week, Monday to Sunday (UTC)."""

    week_start: date
    received: int
    delivered: int
    days: list[ThroughputDay]


class TurnaroundGroup(BaseModel):
    group: str = Field(description="The priority or sample type.")
    samples: int = Field(description="Samples delivered in the window.")
    median_hours: float = Field(description="Median hours from receipt (or submission) to delivery.")
    on_time: int = Field(description="Delivered by their due time.")


class TurnaroundReport(BaseModel):
    """Median turnaround of the samples delivered in the last ``days`` days."""

    days: int
    since: datetime
    by_priority: list[TurnaroundGroup]
    by_sample_type: list[TurnaroundGroup]


class QcKindRate(BaseModel):
    kind: QcKind
    measurements: int
    passed: int
    warned: int
    failed: int
    failure_rate: float = Field(description="Failed measurements / measurements, 0–1.")


class QcFailureReport(BaseModel):
    """QC verdicts of the measurements recorded in the last ``days`` days."""

    days: int
    since: datetime
    samples_measured: int
    samples_failed: int = Field(description="Measured samples with at least one failing measurement.")
    failure_rate: float = Field(description="samples_failed / samples_measured, 0–1 (0 when none were measured).")
    kinds: list[QcKindRate]


# Sample types are listed in this order, whatever the database returns.
SAMPLE_TYPE_ORDER = {kind.value: index for index, kind in enumerate(SampleType)}
PRIORITY_ORDER = {priority.value: index for index, priority in enumerate(Priority)}
