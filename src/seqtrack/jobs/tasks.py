"""Housekeeping for the ledger itself: finished jobs and old bookkeeping rows do not pile up forever."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from seqtrack.events import consumers
from seqtrack.jobs import registry
from seqtrack.jobs.models import Job, JobState, ScheduleTick
from seqtrack.platform.models import utcnow

PRUNE_TASK = "jobs.prune"
# Dead jobs stay until someone looks at them; succeeded ones are only history.
KEEP_SUCCEEDED = timedelta(days=14)
KEEP_TICKS = timedelta(days=14)


@registry.task(PRUNE_TASK, max_attempts=3, timeout_seconds=600)
async def prune(ctx: registry.JobContext, *, tick: str | None = None) -> None:
    now = utcnow()
    async with ctx.database.write_session() as session:
        await session.execute(
            delete(Job).where(Job.state == JobState.SUCCEEDED, Job.finished_at < now - KEEP_SUCCEEDED)
        )
        await session.execute(delete(ScheduleTick).where(ScheduleTick.claimed_at < now - KEEP_TICKS))
        await consumers.forget_processed(session, now)


registry.schedule("jobs.prune.nightly", PRUNE_TASK, cron="17 3 * * *")
