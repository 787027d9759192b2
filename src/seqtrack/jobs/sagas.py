"""Persisted sagas: several steps that each commit, with compensations, resumed after a crash.

Each step runs in its own unit of work together with the saga's progress row,
so a step's database effect and "step done" commit as one: a worker killed
between steps resumes at the next step, never repeating a committed one.
Effects outside the database (a file move, an e-mail) can run twice and must
be idempotent. A failed step undoes the finished ones in reverse order.
"""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events.recorder import to_json
from seqtrack.jobs.models import SagaRun as SagaRun
from seqtrack.jobs.states import SagaState
from seqtrack.platform.database import Database
from seqtrack.platform.models import new_id, utcnow
from seqtrack.settings import Settings

log = structlog.get_logger("seqtrack.sagas")

StepAction = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    name: str
    action: StepAction
    compensate: StepAction | None = None


class Saga:
    """A named list of steps; ``context`` is the JSON state the steps read and extend."""

    def __init__(self, name: str, steps: list[Step]) -> None:
        if not steps:
            raise ValueError("a saga needs at least one step")
        self.name = name
        self.steps = steps
        _SAGAS[name] = self

    async def start(
        self,
        database: Database,
        settings: Settings,
        context: dict[str, Any],
        *,
        tenant_id: uuid.UUID | None = None,
        owner: str = "caller",
    ) -> SagaRun:
        async with database.write_session() as session:
            run = self.plan(session, context, tenant_id=tenant_id)
            # Leased from birth so the sweep cannot start it under our feet.
            run.lease_owner = owner
            run.lease_expires_at = utcnow() + timedelta(seconds=settings.job_lease_seconds)
        return await run_saga(database, settings, run.id, owner)

    def plan(self, session: AsyncSession, context: dict[str, Any], *, tenant_id: uuid.UUID | None = None) -> SagaRun:
        """Add a run to the caller's unit of work for a job (or a worker's sweep) to drive once it commits."""
        run = SagaRun(
            id=new_id(),
            tenant_id=tenant_id,
            name=self.name,
            state=SagaState.RUNNING,
            completed_steps=0,
            context=to_json(context),
            lease_owner=None,
            lease_expires_at=None,
        )
        session.add(run)
        return run


_SAGAS: dict[str, Saga] = {}


async def _claim(database: Database, saga_id: uuid.UUID, owner: str, lease_seconds: float) -> SagaRun | None:
    """Take the saga's lease unless another runner holds it.

    A runner in the middle of a step holds the saga's row lock until the step
    commits, however long it takes (a commit of a million samples outlives any
    lease): a locked row is a live runner, so it is passed over at once rather
    than waited for and then taken over. A runner that died lost its lock with
    its connection, and its expired lease lets the next one in.
    """
    now = utcnow()
    async with database.write_session() as session:
        free = await session.scalar(select(SagaRun.id).where(SagaRun.id == saga_id).with_for_update(skip_locked=True))
        if free is None:
            return None
        result = await session.execute(
            update(SagaRun)
            .where(
                SagaRun.id == saga_id,
                SagaRun.state.in_((SagaState.RUNNING, SagaState.COMPENSATING)),
                or_(SagaRun.lease_owner.is_(None), SagaRun.lease_owner == owner, SagaRun.lease_expires_at < now),
            )
            .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return None
        return await session.get(SagaRun, saga_id, populate_existing=True)


async def run_saga(database: Database, settings: Settings, saga_id: uuid.UUID, owner: str) -> SagaRun:
    """Drive a saga to completed or compensated from wherever its row says it stands."""
    lease = settings.job_lease_seconds
    run = await _claim(database, saga_id, owner, lease)
    if run is None:
        async with database.read_session() as session:
            current = await session.get(SagaRun, saga_id)
        if current is None:
            raise LookupError(f"no saga {saga_id}")
        return current
    saga = _SAGAS.get(run.name)
    if saga is None:
        raise LookupError(f"no saga named {run.name!r} is registered in this process")

    while run.state == SagaState.RUNNING and run.completed_steps < len(saga.steps):
        step = saga.steps[run.completed_steps]
        try:
            async with database.write_session() as session:
                row = await session.get(SagaRun, run.id, with_for_update=True, populate_existing=True)
                assert row is not None
                context = dict(row.context)
                await step.action(session, context)
                row.context = to_json(context)
                row.completed_steps += 1
                row.lease_expires_at = utcnow() + timedelta(seconds=lease)
                if row.completed_steps == len(saga.steps):
                    row.state = SagaState.COMPLETED
                    row.lease_owner = None
            run = row
        except Exception as exc:
            log.warning("saga step failed; compensating", saga=run.name, step=step.name, error=repr(exc))
            async with database.write_session() as session:
                row = await session.get(SagaRun, run.id, with_for_update=True, populate_existing=True)
                assert row is not None
                row.state = SagaState.COMPENSATING
                row.last_error = f"step {step.name!r} failed: {exc!r}\n{traceback.format_exc()}"[:20000]
            run = row

    while run.state == SagaState.COMPENSATING:
        async with database.write_session() as session:
            row = await session.get(SagaRun, run.id, with_for_update=True, populate_existing=True)
            assert row is not None
            if row.completed_steps == 0:
                row.state = SagaState.COMPENSATED
                row.lease_owner = None
            else:
                step = saga.steps[row.completed_steps - 1]
                context = dict(row.context)
                if step.compensate is not None:
                    await step.compensate(session, context)
                row.context = to_json(context)
                row.completed_steps -= 1
                row.lease_expires_at = utcnow() + timedelta(seconds=lease)
        run = row
    return run


async def resume_abandoned(database: Database, settings: Settings, owner: str) -> int:
    """Pick up sagas whose runner stopped renewing its lease (a crashed process)."""
    now = utcnow()
    async with database.read_session() as session:
        ids = list(
            (
                await session.scalars(
                    select(SagaRun.id)
                    .where(
                        SagaRun.state.in_((SagaState.RUNNING, SagaState.COMPENSATING)),
                        or_(SagaRun.lease_expires_at.is_(None), SagaRun.lease_expires_at < now),
                    )
                    .limit(100)
                )
            ).all()
        )
    resumed = 0
    for saga_id in ids:
        try:
            await run_saga(database, settings, saga_id, owner)
            resumed += 1
        except LookupError:
            log.warning("cannot resume saga: not registered here", saga_id=str(saga_id))
    return resumed


async def find_run(session: AsyncSession, saga_id: uuid.UUID) -> SagaRun | None:
    """A saga's progress (state, last error), for the domain that started it."""
    return await session.get(SagaRun, saga_id)
