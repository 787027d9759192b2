"""Intake's jobs: reading a large file, and driving a large commit's saga (registered when the worker starts)."""

from __future__ import annotations

import uuid

from seqtrack.intake import commit, service
from seqtrack.jobs import registry, sagas
from seqtrack.jobs.worker import RetryLater


@registry.task(service.READ_TASK, max_attempts=3, timeout_seconds=3600)
async def read_submission(ctx: registry.JobContext, *, submission_id: str) -> None:
    await service.read_in_background(ctx.database, ctx.settings, uuid.UUID(submission_id))


@registry.task(commit.COMMIT_TASK, max_attempts=10, timeout_seconds=3600)
async def commit_submission(ctx: registry.JobContext, *, saga_id: str) -> None:
    run = await sagas.run_saga(ctx.database, ctx.settings, uuid.UUID(saga_id), f"job-{ctx.job_id}")
    if not commit.finished(run):
        # Another worker holds the saga (or its dead owner's lease has not run out yet): look again later.
        raise RetryLater("the commit saga is being driven elsewhere", min(ctx.settings.job_lease_seconds, 30.0))
