"""The job ledger, schedule ticks and persisted sagas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

# Re-exported: the jobs package itself names the states beside its tables.
from seqtrack.jobs.states import JobState as JobState
from seqtrack.jobs.states import SagaState as SagaState
from seqtrack.platform.models import Base, new_id, utcnow


class Job(Base):
    """One piece of background work, the source of truth about it.

    huey only carries wake-ups: it forgets a message once a worker dequeues it,
    so a worker killed mid-task would lose the work. The ledger row keeps it,
    and the lease says when a silent worker is presumed dead.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_run_after", "state", "run_after"),
        Index("ix_jobs_tenant_state", "tenant_id", "state", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID | None]
    task: Mapped[str] = mapped_column(String(120))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int]
    timeout_seconds: Mapped[float]
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    # When a wake-up was last handed to huey; the sweep re-sends stale ones.
    enqueued_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    # W3C trace context of whoever enqueued it, so the job's span joins the request's trace.
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class ScheduleTick(Base):
    """Proof that one worker claimed one tick of a schedule; the unique key is the lock."""

    __tablename__ = "schedule_ticks"
    __table_args__ = (UniqueConstraint("schedule", "tick"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    schedule: Mapped[str] = mapped_column(String(120))
    tick: Mapped[datetime]
    job_id: Mapped[uuid.UUID]
    claimed_by: Mapped[str] = mapped_column(String(120))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)


class SagaRun(Base):
    """A multi-step operation's progress, so a crash resumes it instead of leaving it half done."""

    __tablename__ = "sagas"
    __table_args__ = (Index("ix_sagas_state_lease", "state", "lease_expires_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID | None]
    name: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(16), default=SagaState.RUNNING)
    # Steps finished so far (index of the next step to run, or to compensate below).
    completed_steps: Mapped[int] = mapped_column(default=0)
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
