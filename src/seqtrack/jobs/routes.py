"""Jobs of the caller's tenant, and putting dead ones back on the queue."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from seqtrack.identity.deps import require
from seqtrack.jobs import service
from seqtrack.jobs.models import Job, JobState
from seqtrack.jobs.schemas import JobOut, JobPage
from seqtrack.platform.actor import Actor
from seqtrack.platform.deps import ReadSession, WriteSession
from seqtrack.platform.permissions import Permission

router = APIRouter(prefix="/jobs", tags=["jobs"])

CanReadJobs = Annotated[Actor, Depends(require(Permission.JOBS_READ))]
CanManageJobs = Annotated[Actor, Depends(require(Permission.JOBS_MANAGE))]


@router.get("", response_model=JobPage)
async def list_jobs(
    session: ReadSession,
    actor: CanReadJobs,
    state: JobState | None = None,
    task: Annotated[
        str | None, Query(max_length=120, description="Exact, case-sensitive task name (email.send).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: uuid.UUID | None = None,
) -> JobPage:
    """Jobs newest first; `state=dead` lists the dead letters with their last error."""
    rows, next_cursor = await service.list_jobs(session, actor, state=state, task_name=task, limit=limit, cursor=cursor)
    return JobPage(
        items=[JobOut.model_validate(row) for row in rows],
        next_cursor=str(next_cursor) if next_cursor else None,
    )


@router.get("/{job_id}", response_model=JobOut)
async def get_job(job_id: uuid.UUID, session: ReadSession, actor: CanReadJobs) -> Job:
    """One job with its last error."""
    return await service.get_job(session, actor, job_id)


@router.post("/{job_id}/retry", response_model=JobOut, status_code=202)
async def retry_job(job_id: uuid.UUID, session: WriteSession, actor: CanManageJobs) -> Job:
    """Put a dead job back on the queue with a fresh set of attempts."""
    return await service.retry_dead_job(session, job_id, actor)
