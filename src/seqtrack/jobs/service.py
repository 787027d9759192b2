"""The job ledger: enqueue inside a unit of work, claim with a lease, finish, retry, bury."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

from opentelemetry import propagate
from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.jobs import metrics, queue, registry
from seqtrack.jobs.errors import JobNotFound, JobNotRetryable
from seqtrack.jobs.models import Job, JobState
from seqtrack.platform.actor import SYSTEM_TENANT_ID, Actor
from seqtrack.platform.database import after_commit
from seqtrack.platform.models import new_id, utcnow
from seqtrack.settings import Settings

WAITING_STATES = (JobState.QUEUED, JobState.FAILED)


async def enqueue(
    session: AsyncSession,
    task_name: str,
    args: dict[str, Any] | None = None,
    *,
    tenant_id: uuid.UUID | None = None,
    delay_seconds: float = 0.0,
    max_attempts: int | None = None,
    timeout_seconds: float | None = None,
    settings: Settings | None = None,
) -> Job:
    """Add a job in the caller's unit of work; it is handed to the queue only once that commits.

    A rolled-back request therefore never leaves a job behind, and a crash between
    commit and hand-over is repaired by the worker's sweep, which re-sends stale rows.
    """
    # Imported on first use: ``seqtrack jobs dead`` reads the ledger without loading the write path.
    from seqtrack.events.recorder import to_json

    spec = registry.get_task(task_name)
    job = Job(
        id=new_id(),
        tenant_id=tenant_id,
        task=task_name,
        args=to_json(dict(args or {})),
        state=JobState.QUEUED,
        attempts=0,
        max_attempts=max_attempts or (spec.max_attempts if spec else None) or _default(settings, "job_max_attempts"),
        timeout_seconds=timeout_seconds
        or (spec.timeout_seconds if spec else None)
        or _default(settings, "job_timeout_seconds"),
        run_after=utcnow() + timedelta(seconds=delay_seconds),
        enqueued_at=utcnow(),
        trace_context=_current_trace_context(),
        created_at=utcnow(),
    )
    session.add(job)
    metrics.JOBS.labels(task=task_name, outcome="enqueued").inc()
    _hand_over_after_commit(session, job.id, delay_seconds)
    return job


def _current_trace_context() -> dict[str, str] | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier or None


def _default(settings: Settings | None, name: str) -> Any:
    if settings is not None:
        return getattr(settings, name)
    return Settings.model_fields[name].default


def _hand_over_after_commit(session: AsyncSession, job_id: uuid.UUID, delay_seconds: float) -> None:
    async def hand_over() -> None:
        transport = queue.current()
        if transport is not None:
            await transport.push_async(job_id, delay_seconds)

    after_commit(session, f"jobs.hand_over.{job_id}", hand_over)


async def claim(session: AsyncSession, job_id: uuid.UUID, owner: str, lease_seconds: float) -> Job | None:
    """Take a due job for ``owner``; None when another worker has it, it is done, or not due yet.

    A conditional UPDATE is the claim: of two workers woken for the same job,
    exactly one changes the row.
    """
    now = utcnow()
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state.in_(WAITING_STATES), Job.run_after <= now)
        .values(
            state=JobState.RUNNING,
            attempts=Job.attempts + 1,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            started_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    return await session.get(Job, job_id, populate_existing=True)


async def extend_lease(session: AsyncSession, job_id: uuid.UUID, owner: str, lease_seconds: float) -> bool:
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.state == JobState.RUNNING)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def mark_succeeded(session: AsyncSession, job_id: uuid.UUID, owner: str) -> None:
    await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner)
        .values(
            state=JobState.SUCCEEDED,
            finished_at=utcnow(),
            lease_owner=None,
            lease_expires_at=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )


def backoff_seconds(attempt: int, settings: Settings) -> float:
    """Exponential backoff with equal jitter: at least half the step, never beyond the cap.

    The jitter spreads out retries of many jobs that failed together (an endpoint
    down for everyone) so they do not all come back in the same second.
    """
    step = float(min(settings.job_retry_max_seconds, settings.job_retry_base_seconds * 2 ** max(attempt - 1, 0)))
    return step / 2 + random.uniform(0, step / 2)


async def mark_failed(
    session: AsyncSession,
    job: Job,
    owner: str,
    error: str,
    traceback_text: str,
    settings: Settings,
    *,
    retry_after_seconds: float | None = None,
    final: bool = False,
) -> float | None:
    """Record a failed attempt; returns the delay before the retry, or None when the job is now dead."""
    now = utcnow()
    if final or job.attempts >= job.max_attempts:
        state, delay = JobState.DEAD, None
    else:
        state = JobState.FAILED
        delay = retry_after_seconds if retry_after_seconds is not None else backoff_seconds(job.attempts, settings)
    await session.execute(
        update(Job)
        .where(Job.id == job.id, Job.lease_owner == owner)
        .values(
            state=state,
            last_error=error[:4000],
            traceback=traceback_text[-20000:],
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now if state == JobState.DEAD else None,
            run_after=now + timedelta(seconds=delay or 0),
            enqueued_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    metrics.JOBS.labels(task=job.task, outcome="dead" if delay is None else "failed").inc()
    return delay


async def recover_expired_leases(session: AsyncSession) -> list[uuid.UUID]:
    """Jobs whose worker stopped renewing its lease (killed, frozen, partitioned) go back to the queue."""
    now = utcnow()
    rows = (
        await session.scalars(
            select(Job)
            .where(Job.state == JobState.RUNNING, Job.lease_expires_at < now)
            .with_for_update(skip_locked=True)
            .limit(500)
        )
    ).all()
    revived: list[uuid.UUID] = []
    for job in rows:
        job.lease_owner = None
        job.lease_expires_at = None
        job.last_error = "the worker running this job stopped (lease expired)"
        job.enqueued_at = now
        if job.attempts >= job.max_attempts:
            job.state = JobState.DEAD
            job.finished_at = now
            metrics.JOBS.labels(task=job.task, outcome="dead").inc()
        else:
            job.state = JobState.QUEUED
            job.run_after = now
            revived.append(job.id)
    return revived


async def stale_waiting_jobs(session: AsyncSession, stale_after_seconds: float) -> list[tuple[uuid.UUID, float]]:
    """Due jobs whose wake-up was sent long ago: lost in transit, or never sent (crash after commit)."""
    now = utcnow()
    threshold = now - timedelta(seconds=stale_after_seconds)
    rows = (
        await session.scalars(
            select(Job)
            .where(
                Job.state.in_(WAITING_STATES),
                or_(Job.enqueued_at.is_(None), Job.enqueued_at < threshold),
                Job.run_after <= now,
            )
            .with_for_update(skip_locked=True)
            .limit(500)
        )
    ).all()
    for job in rows:
        job.enqueued_at = now
    return [(job.id, 0.0) for job in rows]


async def count_waiting(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Job).where(Job.state.in_(WAITING_STATES))) or 0)


async def sweep_outlook(session: AsyncSession, stale_after_seconds: float) -> tuple[int, bool]:
    """How many jobs wait, and whether any lease has expired or any wake-up is stale, in one read.

    The sweep asks this first so an idle worker never takes the writer's turn for nothing.
    """
    now = utcnow()
    threshold = now - timedelta(seconds=stale_after_seconds)
    expired = exists().where(Job.state == JobState.RUNNING, Job.lease_expires_at < now)
    stale = exists().where(
        Job.state.in_(WAITING_STATES),
        or_(Job.enqueued_at.is_(None), Job.enqueued_at < threshold),
        Job.run_after <= now,
    )
    waiting = select(func.count()).select_from(Job).where(Job.state.in_(WAITING_STATES)).scalar_subquery()
    row = (await session.execute(select(waiting, or_(expired, stale)))).one()
    return int(row[0] or 0), bool(row[1])


async def list_jobs(
    session: AsyncSession,
    actor: Actor,
    *,
    state: JobState | None = None,
    task_name: str | None = None,
    limit: int = 50,
    cursor: uuid.UUID | None = None,
) -> tuple[list[Job], uuid.UUID | None]:
    query = select(Job).where(Job.tenant_id == actor.tenant_id)
    if state is not None:
        query = query.where(Job.state == state)
    if task_name is not None:
        query = query.where(Job.task == task_name)
    if cursor is not None:
        query = query.where(Job.id < cursor)
    rows = list((await session.scalars(query.order_by(Job.id.desc()).limit(limit + 1))).all())
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


async def get_job(session: AsyncSession, actor: Actor, job_id: uuid.UUID) -> Job:
    job = await session.get(Job, job_id)
    if job is None or job.tenant_id != actor.tenant_id:
        raise JobNotFound(f"No job {job_id}.")
    return job


async def retry_dead_job(session: AsyncSession, job_id: uuid.UUID, actor: Actor | None = None) -> Job:
    """Put a dead job back on the queue with a fresh set of attempts.

    ``actor`` None is the operator's CLI, which sees every tenant.
    """
    from seqtrack.events.recorder import DomainEvent, record

    job = await session.get(Job, job_id, with_for_update=True)
    if job is None or (actor is not None and job.tenant_id != actor.tenant_id):
        raise JobNotFound(f"No job {job_id}.")
    if job.state != JobState.DEAD:
        raise JobNotRetryable(f"Job {job_id} is {job.state}; only dead jobs are retried by hand.", state=job.state)
    now = utcnow()
    job.state = JobState.QUEUED
    job.attempts = 0
    job.run_after = now
    job.enqueued_at = now
    job.finished_at = None
    # Replaying work by hand is an operator decision the trail must show.
    tenant_id = job.tenant_id or SYSTEM_TENANT_ID
    await record(
        session,
        DomainEvent(
            type="job.retried",
            aggregate_type="job",
            aggregate_id=job.id,
            data={"task": job.task},
            changes={"state": (JobState.DEAD.value, JobState.QUEUED.value)},
        ),
        actor or Actor.system(tenant_id, "seqtrack jobs retry"),
        tenant_id=tenant_id,
    )
    _hand_over_after_commit(session, job.id, 0.0)
    metrics.JOBS.labels(task=job.task, outcome="enqueued").inc()
    return job


async def dead_jobs(session: AsyncSession, limit: int = 100) -> list[Job]:
    rows = await session.scalars(select(Job).where(Job.state == JobState.DEAD).order_by(Job.id.desc()).limit(limit))
    return list(rows.all())
