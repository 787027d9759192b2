"""Persisted sagas: steps commit with their progress, failures compensate, crashes resume."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events.recorder import DomainEvent, record
from seqtrack.jobs import sagas
from seqtrack.jobs.models import SagaRun, SagaState
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.settings import Settings


class PowerCut(BaseException):
    """Stands in for the process dying mid-step: nothing below catches it."""


def _step(name: str, log: list[str], *, fail: bool = False, crash: list[bool] | None = None) -> sagas.Step:
    async def action(session: AsyncSession, context: dict[str, Any]) -> None:
        if crash and crash[0]:
            crash[0] = False
            raise PowerCut(name)
        if fail:
            raise ValueError(f"{name} refused: rack full")
        tenant = uuid.UUID(context["tenant"])
        await record(
            session,
            DomainEvent(type=f"intake.{name}", aggregate_type="submission", aggregate_id=uuid.UUID(context["id"])),
            Actor.system(tenant),
        )
        context[name] = "done"
        log.append(name)

    async def compensate(session: AsyncSession, context: dict[str, Any]) -> None:
        context[name] = "undone"
        log.append(f"undo {name}")

    return sagas.Step(name, action, compensate)


def _context() -> dict[str, Any]:
    return {"tenant": str(uuid.uuid4()), "id": str(uuid.uuid4())}


async def test_a_saga_runs_every_step_and_keeps_what_each_added(database: Database, settings: Settings) -> None:
    log: list[str] = []
    saga = sagas.Saga("tests.commit_ok", [_step("parse", log), _step("create", log), _step("label", log)])
    run = await saga.start(database, settings, _context())
    assert run.state == SagaState.COMPLETED
    assert log == ["parse", "create", "label"]
    assert run.context["label"] == "done"


async def test_a_failing_step_undoes_the_finished_steps_in_reverse_order(
    database: Database, settings: Settings
) -> None:
    log: list[str] = []
    saga = sagas.Saga("tests.commit_fails", [_step("parse", log), _step("create", log), _step("place", log, fail=True)])
    run = await saga.start(database, settings, _context())
    assert run.state == SagaState.COMPENSATED
    assert log == ["parse", "create", "undo create", "undo parse"]
    assert "rack full" in (run.last_error or "")
    assert run.context == {**run.context, "parse": "undone", "create": "undone"}


async def test_a_saga_interrupted_by_a_crash_is_resumed_by_a_worker_at_the_next_step(
    database: Database, settings: Settings
) -> None:
    log: list[str] = []
    crash = [True]
    saga = sagas.Saga("tests.commit_crash", [_step("parse", log), _step("create", log, crash=crash)])
    with pytest.raises(PowerCut):
        await saga.start(database, settings, _context())
    assert log == ["parse"]
    # The dead process's lease runs out; a worker's sweep picks the saga up.
    async with database.write_session() as session:
        await session.execute(update(SagaRun).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert await sagas.resume_abandoned(database, settings, "worker-2") == 1
    assert log == ["parse", "create"]
    async with database.read_session() as session:
        [run] = (await session.scalars(select(SagaRun))).all()
    assert run.state == SagaState.COMPLETED
    assert run.completed_steps == 2


async def test_a_step_that_outlives_its_lease_is_not_taken_over_by_another_runner(
    database: Database, settings: Settings
) -> None:
    """A commit of a million samples runs longer than any lease: its runner is alive while its step is."""
    short = settings.model_copy(update={"job_lease_seconds": 0.2})
    entered, release = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def long_commit(session: AsyncSession, context: dict[str, Any]) -> None:
        runs.append("create")
        entered.set()
        await release.wait()

    saga = sagas.Saga("tests.long_step", [sagas.Step("create", long_commit)])
    async with database.write_session() as session:
        planned = saga.plan(session, _context())
    first = asyncio.create_task(sagas.run_saga(database, short, planned.id, "worker-a"))
    await entered.wait()
    await asyncio.sleep(0.5)
    second = asyncio.create_task(sagas.run_saga(database, short, planned.id, "worker-b"))
    if not database.is_sqlite:
        # PostgreSQL: the step's row lock says its runner is alive; the other passes at once, without waiting.
        passed_over = await asyncio.wait_for(second, timeout=10)
        assert passed_over.state == SagaState.RUNNING
    # SQLite has one writer: the other runner cannot even look until the step commits.
    release.set()
    done = await first
    await second
    assert done.state == SagaState.COMPLETED
    assert runs == ["create"]
