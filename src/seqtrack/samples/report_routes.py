"""The reports API: the dashboard's figures for pipelines and spreadsheets, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from seqtrack.platform.deps import ReadSession
from seqtrack.platform.responses import CSV, download
from seqtrack.samples import reports
from seqtrack.samples.deps import CanRead
from seqtrack.samples.export import neutralise
from seqtrack.samples.report_schemas import (
    OverdueReport,
    QcFailureReport,
    SamplesByState,
    ThroughputReport,
    TurnaroundReport,
)

router = APIRouter(prefix="/reports", tags=["reports"])

AS_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "The report as CSV with a header row."}
}
WeekOf = Annotated[
    date | None, Query(description="Any day of the wanted week (Monday to Sunday, UTC); this week when omitted.")
]
TurnaroundDays = Annotated[int, Query(ge=1, le=3650, description="Samples delivered in the last this many days.")]
QcDays = Annotated[int, Query(ge=1, le=3650, description="Measurements recorded in the last this many days.")]


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(getattr(value, "value", value))


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return download(buffer.getvalue(), CSV, f"{name}-{stamp}.csv")


@router.get("/samples-by-state", response_model=SamplesByState)
async def samples_by_state(session: ReadSession, actor: CanRead) -> SamplesByState:
    """How many samples are in each lifecycle state now."""
    return await reports.samples_by_state(session, actor)


@router.get("/samples-by-state.csv", response_class=Response, responses=AS_CSV)
async def samples_by_state_csv(session: ReadSession, actor: CanRead) -> Response:
    """Samples by state as CSV: state, samples."""
    report = await reports.samples_by_state(session, actor)
    return csv_response("samples-by-state", ["state", "samples"], ((row.state, row.samples) for row in report.states))


@router.get("/overdue", response_model=OverdueReport)
async def overdue(session: ReadSession, actor: CanRead) -> OverdueReport:
    """Open samples past their due time, by priority, against the turnaround targets."""
    return await reports.overdue(session, actor)


@router.get("/overdue.csv", response_class=Response, responses=AS_CSV)
async def overdue_csv(session: ReadSession, actor: CanRead) -> Response:
    """Overdue samples by priority as CSV."""
    report = await reports.overdue(session, actor)
    return csv_response(
        "overdue",
        ["priority", "target_hours", "open", "overdue", "oldest_due_at"],
        ((row.priority, row.target_hours, row.open, row.overdue, row.oldest_due_at) for row in report.priorities),
    )


@router.get("/throughput", response_model=ThroughputReport)
async def throughput(session: ReadSession, actor: CanRead, week_of: WeekOf = None) -> ThroughputReport:
    """Samples received and delivered on each day of a week."""
    return await reports.throughput(session, actor, week_of)


@router.get("/throughput.csv", response_class=Response, responses=AS_CSV)
async def throughput_csv(session: ReadSession, actor: CanRead, week_of: WeekOf = None) -> Response:
    """A week's throughput as CSV: date, received, delivered."""
    report = await reports.throughput(session, actor, week_of)
    return csv_response(
        "throughput",
        ["date", "received", "delivered"],
        ((day.date, day.received, day.delivered) for day in report.days),
    )


@router.get("/turnaround", response_model=TurnaroundReport)
async def turnaround(session: ReadSession, actor: CanRead, days: TurnaroundDays = 90) -> TurnaroundReport:
    """Median turnaround of recently delivered samples, by priority and by sample type."""
    return await reports.turnaround(session, actor, days)


@router.get("/turnaround.csv", response_class=Response, responses=AS_CSV)
async def turnaround_csv(session: ReadSession, actor: CanRead, days: TurnaroundDays = 90) -> Response:
    """Median turnaround as CSV: one row per priority, then per sample type."""
    report = await reports.turnaround(session, actor, days)
    rows = [("priority", group) for group in report.by_priority]
    rows += [("sample_type", group) for group in report.by_sample_type]
    return csv_response(
        "turnaround",
        ["dimension", "group", "samples", "median_hours", "on_time"],
        ((dimension, row.group, row.samples, row.median_hours, row.on_time) for dimension, row in rows),
    )


@router.get("/qc-failure-rate", response_model=QcFailureReport)
async def qc_failure_rate(session: ReadSession, actor: CanRead, days: QcDays = 30) -> QcFailureReport:
    """How often QC fails: per measured sample and per kind of measurement."""
    return await reports.qc_failure_rate(session, actor, days)


@router.get("/qc-failure-rate.csv", response_class=Response, responses=AS_CSV)
async def qc_failure_rate_csv(session: ReadSession, actor: CanRead, days: QcDays = 30) -> Response:
    """QC verdicts per kind of measurement as CSV."""
    report = await reports.qc_failure_rate(session, actor, days)
    return csv_response(
        "qc-failure-rate",
        ["kind", "measurements", "passed", "warned", "failed", "failure_rate"],
        ((row.kind, row.measurements, row.passed, row.warned, row.failed, row.failure_rate) for row in report.kinds),
    )
