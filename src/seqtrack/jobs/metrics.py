"""Job metrics for /metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from seqtrack.platform.database import Database

JOBS = Counter(
    "seqtrack_jobs_total",
    "Jobs by task and outcome (enqueued, succeeded, failed, dead).",
    ["task", "outcome"],
)
JOB_DURATION = Histogram(
    "seqtrack_job_duration_seconds",
    "Time a job's handler ran, by task.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0),
)
QUEUE_DEPTH = Gauge("seqtrack_job_queue_depth", "Jobs waiting to run (ledger rows queued or awaiting a retry).")
DEAD_JOBS = Gauge("seqtrack_jobs_dead", "Dead letters: jobs that used up their attempts and wait for someone to look.")


async def refresh_dead(database: Database) -> None:
    """Counted at scrape time from the ledger, so every process reports the same number."""
    from sqlalchemy import func, select

    from seqtrack.jobs.models import Job, JobState

    async with database.read_session() as session:
        dead = await session.scalar(select(func.count()).select_from(Job).where(Job.state == JobState.DEAD))
    DEAD_JOBS.set(int(dead or 0))
