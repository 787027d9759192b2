"""Acceptance 3: a worker killed mid-commit leaves every sample or none; after a restart the saga completes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from seqtrack.identity.permissions import Role
from seqtrack.intake import commit, service
from seqtrack.intake.models import Submission
from seqtrack.jobs.models import SagaRun, SagaState
from seqtrack.jobs.queue import JobQueue
from seqtrack.platform.database import Database
from seqtrack.samples.models import Sample
from tests.fixtures.actors import staff_actor
from tests.fixtures.database import make_settings, sqlite_copy
from tests.fixtures.identity import make_tenant
from tests.fixtures.processes import base_env, fleet
from tests.intake.test_background import big_csv
from tests.jobs.support import eventually

# Among the slowest tests of the suite: run first, so the suite does not end waiting on them.
pytestmark = pytest.mark.slow

ROWS = 4_000
FAST = {
    "job_lease_seconds": "2",
    "job_retry_base_seconds": "0.05",
    "job_retry_max_seconds": "0.5",
    "job_poll_interval_seconds": "0.05",
    "job_sweep_interval_seconds": "0.3",
    "intake_background_rows": "100",
    "log_format": "json",
}


async def _samples(database: Database) -> int:
    async with database.read_session() as session:
        return int(await session.scalar(select(func.count()).select_from(Sample)) or 0)


async def _chunks(content: bytes):  # type: ignore[no-untyped-def]
    yield content


@pytest.mark.timeout(600)
async def test_killing_the_worker_mid_commit_leaves_all_or_none_and_a_restart_completes_it(
    tmp_path: Path, sqlite_template: Path
) -> None:
    data_dir = tmp_path / "data"
    sqlite_copy(sqlite_template, data_dir)
    settings = make_settings(data_dir, **{key: value for key, value in FAST.items() if key != "log_format"})
    env = base_env(data_dir=str(data_dir), secret_key=settings.secret_key.get_secret_value(), **FAST)  # type: ignore[union-attr]
    database = Database(settings)
    try:
        actor = staff_actor(await make_tenant(database), Role.MANAGER)
        submission = await service.receive_file(
            database, settings, actor, _chunks(big_csv(ROWS)), file_name="big.csv", lab_id=None, project=None
        )
        assert submission.state == "validated"
        started, done = await commit.start_commit(database, settings, actor, submission.id, None)
        assert not done
        assert started.saga_id is not None
        saga_id: uuid.UUID = started.saga_id
        assert started.job_id is not None
        JobQueue(settings).push(started.job_id)

        async def creating() -> bool:
            async with database.read_session() as session:
                run = await session.get(SagaRun, saga_id, populate_existing=True)
            # Every step before the last has committed: the worker is inside the step that creates the samples.
            last = len(commit.SAGA.steps) - 1
            return run is not None and run.completed_steps == last and run.state == SagaState.RUNNING

        with fleet(tmp_path / "logs") as processes:
            first = processes.worker("worker-1", env)
            try:
                await eventually(creating, within=120, every=0.05)
            except AssertionError:
                pytest.fail(f"the commit never started\n{processes.logs_text()}")
            first.kill()
            assert first.popen.returncode == -9
            assert await _samples(database) in (0, ROWS)
            processes.worker("worker-2", env)

            async def committed() -> bool:
                async with database.read_session() as session:
                    row = await session.get(Submission, submission.id, populate_existing=True)
                return row is not None and row.state == "committed"

            try:
                await eventually(committed, within=240, every=0.2)
            except AssertionError:
                pytest.fail(f"the commit did not complete after the restart\n{processes.logs_text()}")
        assert await _samples(database) == ROWS
        async with database.read_session() as session:
            run = await session.get(SagaRun, saga_id)
            names = (await session.scalars(select(Sample.name))).all()
        assert run is not None
        assert run.state == SagaState.COMPLETED
        assert len(set(names)) == ROWS
    finally:
        await database.dispose()
