"""The dashboard: the facility's figures at a glance, each a chart with its table and CSV behind it.

Every figure comes from the samples reports the API serves at ``/api/v1/reports/...``,
so a pipeline reading the CSV and a manager reading this page see the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission
from seqtrack.platform.deps import ReadSession
from seqtrack.samples import reports
from seqtrack.samples.report_schemas import TurnaroundGroup
from seqtrack.sequencing import service as sequencing_service
from seqtrack.sequencing.lifecycle import FlowCellState, RunState
from seqtrack.web.rendering import label, render

router = APIRouter(include_in_schema=False)

CanRead = Annotated[Actor, Depends(require(Permission.SAMPLES_READ))]
RUN_STATES = tuple(state.value for state in RunState)
FLOW_CELL_STATES = tuple(state.value for state in FlowCellState)


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: what it is, how long it is, and the words read out for it."""

    label: str
    value: float
    text: str

    @classmethod
    def count(cls, label: str, value: int) -> Bar:
        """A bar whose words are its count."""
        return cls(label, value, f"{value:,}")


def _hours(hours: float) -> str:
    return f"{hours:,.0f} h ({hours / 24:.1f} d)" if hours >= 48 else f"{hours:,.1f} h"


def _percent(rate: float) -> str:
    return f"{rate * 100:.0f} %"


def _turnaround_bars(groups: list[TurnaroundGroup]) -> list[Bar]:
    return [Bar(label(group.group), group.median_hours, _hours(group.median_hours)) for group in groups]


async def _sequencing(session: AsyncSession, actor: Actor) -> dict[str, Any] | None:
    """Runs, flow-cell use and yield, for those who may see sequencing."""
    if not actor.can(Permission.SEQUENCING_READ):
        return None
    found = await sequencing_service.figures(session, actor.tenant_id)
    return {
        "figures": found,
        "runs": [Bar.count(label(state), found.runs_by_state.get(state, 0)) for state in RUN_STATES],
        "flow_cells": [Bar.count(label(state), found.flow_cells_by_state.get(state, 0)) for state in FLOW_CELL_STATES],
    }


@router.get("/")
async def dashboard(request: Request, session: ReadSession, actor: CanRead) -> Response:
    by_state = await reports.samples_by_state(session, actor)
    overdue = await reports.overdue(session, actor)
    week = await reports.throughput(session, actor)
    turnaround = await reports.turnaround(session, actor)
    qc = await reports.qc_failure_rate(session, actor)
    charts = {
        "states": [Bar.count(label(row.state), row.samples) for row in by_state.states],
        "overdue": [
            Bar(label(row.priority), row.overdue, f"{row.overdue:,} of {row.open:,}") for row in overdue.priorities
        ],
        "throughput": [Bar.count(day.date.strftime("%a %d %b"), day.delivered) for day in week.days],
        "turnaround_priority": _turnaround_bars(turnaround.by_priority),
        "turnaround_type": _turnaround_bars(turnaround.by_sample_type),
        "qc": [Bar(label(row.kind), row.failure_rate * 100, _percent(row.failure_rate)) for row in qc.kinds],
    }
    context = {
        "by_state": by_state,
        "overdue": overdue,
        "week": week,
        "turnaround": turnaround,
        "qc": qc,
        "charts": charts,
        "hours": _hours,
        "percent": _percent,
        "own_labs_only": actor.sees_only_own_labs,
        "sequencing": await _sequencing(session, actor),
    }
    return render(request, "dashboard.html", context)
