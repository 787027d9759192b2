"""Prometheus metrics of the samples domain, counted only once the change has committed."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import Counter, Gauge
from sqlalchemy import case, func, select

from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.samples.lifecycle import ACTIVE, SampleStatus
from seqtrack.samples.models import Sample

SAMPLES_CREATED = Counter("seqtrack_samples_created_total", "Samples registered.")
SAMPLE_TRANSITIONS = Counter(
    "seqtrack_sample_transitions_total", "Sample lifecycle moves, by source and target state.", ["source", "target"]
)

# Counted from the database at each scrape (like storage occupancy): every replica reports the same truth.
SAMPLES_BY_STATE = Gauge("seqtrack_samples", "Samples per tenant and lifecycle state.", ["tenant", "status"])
SAMPLES_OVERDUE = Gauge(
    "seqtrack_samples_overdue",
    "Samples still being worked on (or on hold) whose turnaround target (due_at) has passed, per tenant.",
    ["tenant"],
)
SAMPLES_DELIVERED_RECENTLY = Gauge(
    "seqtrack_samples_delivered_7d",
    "Samples delivered in the last 7 days per tenant, by whether they met their turnaround target.",
    ["tenant", "on_time"],
)
OPEN_STATES = (*ACTIVE, SampleStatus.ON_HOLD)
RECENT = timedelta(days=7)


async def refresh(database: Database) -> None:
    now = utcnow()
    async with database.read_session() as session:
        by_state = (
            await session.execute(
                select(Sample.tenant_id, Sample.status, func.count()).group_by(Sample.tenant_id, Sample.status)
            )
        ).all()
        overdue = (
            await session.execute(
                select(Sample.tenant_id, func.count())
                .where(Sample.status.in_([str(state) for state in OPEN_STATES]), Sample.due_at < now)
                .group_by(Sample.tenant_id)
            )
        ).all()
        on_time = case((Sample.delivered_at <= Sample.due_at, "true"), else_="false")
        delivered = (
            await session.execute(
                select(Sample.tenant_id, on_time, func.count())
                .where(Sample.delivered_at >= now - RECENT)
                .group_by(Sample.tenant_id, on_time)
            )
        ).all()
    SAMPLES_BY_STATE.clear()
    SAMPLES_OVERDUE.clear()
    SAMPLES_DELIVERED_RECENTLY.clear()
    for tenant_id, status, count in by_state:
        SAMPLES_BY_STATE.labels(tenant=str(tenant_id), status=status).set(count)
    for tenant_id, count in overdue:
        SAMPLES_OVERDUE.labels(tenant=str(tenant_id)).set(count)
    for tenant_id, met, count in delivered:
        SAMPLES_DELIVERED_RECENTLY.labels(tenant=str(tenant_id), on_time=met).set(count)
