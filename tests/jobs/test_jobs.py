"""The job ledger: retries end in dead letters, retry replays, leases recover, ticks run once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from seqtrack.jobs import queue as job_queue
from seqtrack.jobs import registry
from seqtrack.jobs import service as jobs_service
from seqtrack.jobs.models import Job, JobState, ScheduleTick
from seqtrack.jobs.queue import JobQueue
from seqtrack.jobs.worker import Worker
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.settings import Settings
from tests.fixtures.database import make_settings
from tests.jobs import tasks as test_tasks
from tests.jobs.support import FAST, eventually

assert test_tasks  # registers the test tasks in this process


async def _enqueue(database: Database, task: str, args: dict[str, Any], **options: Any) -> uuid.UUID:
    async with database.write_session() as session:
        job = await jobs_service.enqueue(session, task, args, **options)
    return job.id


async def test_a_task_that_always_fails_is_dead_after_its_retries_with_its_traceback(
    manager_client: httpx.AsyncClient, fast_settings: Settings, tenant_id: uuid.UUID
) -> None:
    database = Database(fast_settings)
    try:
        job_id = await _enqueue(database, "tests.always_fails", {"note": "in bay 3"}, tenant_id=tenant_id)
    finally:
        await database.dispose()

    async def dead_letters() -> list[dict[str, Any]]:
        response = await manager_client.get("/api/v1/jobs", params={"state": "dead"})
        return list(response.json()["items"])

    [dead] = await eventually(dead_letters)
    assert dead["id"] == str(job_id)
    assert dead["attempts"] == 3
    assert dead["args"] == {"note": "in bay 3"}
    assert dead["last_error"] == "RuntimeError: the sequencer is on fire in bay 3"
    # Facility users see what failed, never the server's code and paths.
    assert "traceback" not in dead
    assert "Traceback" not in str(dead)
    database = Database(fast_settings)
    try:
        async with database.read_session() as session:
            stored = await session.get(Job, job_id)
    finally:
        await database.dispose()
    assert stored is not None
    assert stored.traceback is not None
    assert "Traceback" in stored.traceback
    exposition = (await manager_client.get("/metrics")).text
    assert 'seqtrack_jobs_total{outcome="dead",task="tests.always_fails"}' in exposition


async def test_a_job_running_past_its_timeout_is_stopped_and_recorded_as_timed_out(
    manager_client: httpx.AsyncClient, fast_settings: Settings, tenant_id: uuid.UUID, tmp_path: Path
) -> None:
    database = Database(fast_settings)
    try:
        job_id = await _enqueue(
            database,
            "tests.hang_first_time",
            {"path": str(tmp_path / "marker")},
            tenant_id=tenant_id,
            timeout_seconds=0.2,
            max_attempts=1,
        )
    finally:
        await database.dispose()

    async def dead() -> dict[str, Any] | None:
        body: dict[str, Any] = (await manager_client.get(f"/api/v1/jobs/{job_id}")).json()
        return body if body["state"] == "dead" else None

    job = await eventually(dead)
    assert job["last_error"] == "timed out after 0.2 s"


async def test_retrying_a_dead_job_from_the_api_runs_it_again(
    manager_client: httpx.AsyncClient, fast_settings: Settings, tenant_id: uuid.UUID
) -> None:
    database = Database(fast_settings)
    try:
        job_id = await _enqueue(database, "tests.always_fails", {}, tenant_id=tenant_id)

        async def dead() -> dict[str, Any] | None:
            body: dict[str, Any] = (await manager_client.get(f"/api/v1/jobs/{job_id}")).json()
            return body if body["state"] == "dead" else None

        first = await eventually(dead)
        response = await manager_client.post(f"/api/v1/jobs/{job_id}/retry")
        assert response.status_code == 202
        assert response.json()["state"] == "queued"
        trail = (await manager_client.get("/api/v1/audit", params={"action": "job.retried"})).json()["items"]
        assert [entry["entity_id"] for entry in trail] == [str(job_id)]

        async def dead_again() -> dict[str, Any] | None:
            body = await dead()
            return body if body and body["started_at"] > first["started_at"] else None

        second = await eventually(dead_again)
        assert second["attempts"] == 3
    finally:
        await database.dispose()


async def test_only_dead_jobs_can_be_retried_by_hand(
    manager_client: httpx.AsyncClient, fast_settings: Settings, tenant_id: uuid.UUID, tmp_path: Path
) -> None:
    database = Database(fast_settings)
    try:
        job_id = await _enqueue(
            database, "tests.write_line", {"path": str(tmp_path / "out.txt"), "line": "x"}, tenant_id=tenant_id
        )

        async def succeeded() -> bool:
            return bool((await manager_client.get(f"/api/v1/jobs/{job_id}")).json()["state"] == "succeeded")

        await eventually(succeeded)
    finally:
        await database.dispose()
    response = await manager_client.post(f"/api/v1/jobs/{job_id}/retry")
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_another_tenants_job_is_not_found(
    manager_client: httpx.AsyncClient, fast_settings: Settings, tmp_path: Path
) -> None:
    database = Database(fast_settings)
    try:
        job_id = await _enqueue(
            database, "tests.write_line", {"path": str(tmp_path / "o.txt"), "line": "x"}, tenant_id=uuid.uuid4()
        )
    finally:
        await database.dispose()
    assert (await manager_client.get(f"/api/v1/jobs/{job_id}")).status_code == 404
    assert (await manager_client.post(f"/api/v1/jobs/{job_id}/retry")).status_code == 404
    assert (await manager_client.get("/api/v1/jobs")).json()["items"] == []


async def test_a_job_enqueued_in_a_rolled_back_unit_of_work_never_exists(database: Database, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        async with database.write_session() as session:
            await jobs_service.enqueue(session, "tests.write_line", {"path": str(tmp_path / "x"), "line": "x"})
            raise RuntimeError("the request failed after enqueueing")
    async with database.read_session() as session:
        assert (await session.scalars(select(Job))).all() == []


async def test_a_job_whose_worker_vanished_runs_again_once_its_lease_expires(
    fast_settings: Settings, tmp_path: Path
) -> None:
    database = Database(fast_settings)
    queue = JobQueue(fast_settings)
    out = tmp_path / "ran.txt"
    try:
        job_id = await _enqueue(database, "tests.write_line", {"path": str(out), "line": "ran"})
        async with database.write_session() as session:
            claimed = await jobs_service.claim(session, job_id, "a worker that will die", lease_seconds=0.01)
        assert claimed is not None
        worker = Worker(fast_settings, database, queue)
        # Another worker woken for the same job cannot take it while the lease holds the claim.
        assert not await worker.run_job(job_id)
        await asyncio.sleep(0.05)  # the dead worker's lease runs out
        await worker.sweep()
        assert await worker.run_job(job_id)
        async with database.read_session() as session:
            job = await session.get(Job, job_id)
        assert job is not None
        assert job.state == JobState.SUCCEEDED
        assert job.attempts == 2
        assert out.read_text().startswith("ran")
    finally:
        queue.flush()
        await database.dispose()


async def test_a_worker_that_loses_its_lease_stops_the_job_and_leaves_it_to_the_new_owner(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path / "data", database_url, **{**FAST, "job_lease_seconds": 0.3})
    database = Database(settings)
    queue = JobQueue(settings)
    out = tmp_path / "slow.txt"
    try:
        job_id = await _enqueue(database, "tests.slow_write", {"path": str(out), "seconds": 30})
        worker = Worker(settings, database, queue, name="the frozen worker")
        running = asyncio.create_task(worker.run_job(job_id))
        await eventually(lambda: _exists(out))
        # What the sweep and a second worker do once this worker's lease has run out.
        async with database.write_session() as session:
            await session.execute(update(Job).where(Job.id == job_id).values(lease_owner="the worker that took over"))
        assert await asyncio.wait_for(running, timeout=20)
        async with database.read_session() as session:
            job = await session.get(Job, job_id)
        assert job is not None
        assert job.state == JobState.RUNNING
        assert job.lease_owner == "the worker that took over"
        assert job.last_error is None
        assert out.read_text() == "started\n"
    finally:
        queue.flush()
        await database.dispose()


async def test_a_job_for_a_task_no_worker_knows_is_dead_at_once_without_retries(fast_settings: Settings) -> None:
    database = Database(fast_settings)
    queue = JobQueue(fast_settings)
    try:
        job_id = await _enqueue(database, "tests.no_such_task", {}, max_attempts=5)
        assert await Worker(fast_settings, database, queue).run_job(job_id)
        async with database.read_session() as session:
            job = await session.get(Job, job_id)
        assert job is not None
        assert job.state == JobState.DEAD
        assert job.attempts == 1
        assert job.last_error is not None
        assert "no handler registered for task 'tests.no_such_task'" in job.last_error
    finally:
        queue.flush()
        await database.dispose()


async def _exists(path: Path) -> bool:
    return path.exists()


async def test_two_workers_claiming_the_same_schedule_tick_run_it_once(fast_settings: Settings, tmp_path: Path) -> None:
    database = Database(fast_settings)
    queue = JobQueue(fast_settings)
    plan = registry.Schedule(
        "tests.nightly", "tests.write_line", every=timedelta(hours=24), args={"path": str(tmp_path / "n"), "line": "n"}
    )
    tick = plan.current_tick(utcnow())
    try:
        first, second = Worker(fast_settings, database, queue), Worker(fast_settings, database, queue)
        assert await first.claim_tick(plan, tick)
        assert not await second.claim_tick(plan, tick)
        async with database.read_session() as session:
            ticks = (await session.scalars(select(ScheduleTick))).all()
            jobs = (await session.scalars(select(Job))).all()
        assert len(ticks) == 1
        assert len(jobs) == 1
        assert ticks[0].job_id == jobs[0].id
    finally:
        queue.flush()
        await database.dispose()


def test_retry_delays_grow_exponentially_with_jitter_and_stay_under_the_cap(tmp_path: Path) -> None:
    from tests.fixtures.database import make_settings

    settings = make_settings(tmp_path, job_retry_base_seconds=1.0, job_retry_max_seconds=30.0)
    for attempt, step in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 30.0)]:
        delays = {jobs_service.backoff_seconds(attempt, settings) for _ in range(50)}
        assert all(step / 2 <= delay <= step for delay in delays)
        assert len(delays) > 1


def test_a_crontab_schedule_ticks_only_on_matching_minutes() -> None:
    from datetime import UTC, datetime

    plan = registry.Schedule("tests.backup", "tests.write_line", cron="30 2 * * *")
    assert plan.current_tick(datetime(2026, 3, 1, 2, 30, 41, tzinfo=UTC)) == datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
    assert plan.current_tick(datetime(2026, 3, 1, 2, 31, 0, tzinfo=UTC)) is None


async def test_the_nightly_prune_removes_old_succeeded_jobs_but_keeps_dead_letters(
    fast_settings: Settings, tmp_path: Path
) -> None:
    from seqtrack.jobs.tasks import prune

    database = Database(fast_settings)
    long_ago = utcnow() - timedelta(days=40)
    try:
        async with database.write_session() as session:
            for state in (JobState.SUCCEEDED, JobState.DEAD):
                session.add(
                    Job(
                        task="tests.write_line",
                        args={},
                        state=state,
                        max_attempts=1,
                        timeout_seconds=1,
                        created_at=long_ago,
                        finished_at=long_ago,
                    )
                )
        await prune(registry.JobContext(database, fast_settings, uuid.uuid4(), 1, None))
        async with database.read_session() as session:
            left = (await session.scalars(select(Job.state))).all()
        assert left == [JobState.DEAD]
    finally:
        await database.dispose()


async def test_a_job_enqueued_during_a_traced_request_continues_that_trace(
    fast_settings: Settings, tmp_path: Path
) -> None:
    from opentelemetry import trace

    from tests.fixtures.tracing import capture_spans

    exporter = capture_spans()

    database = Database(fast_settings)
    queue = JobQueue(fast_settings)
    try:
        with trace.get_tracer("tests").start_as_current_span("POST /api/v1/submissions") as request_span:
            job_id = await _enqueue(database, "tests.write_line", {"path": str(tmp_path / "t"), "line": "traced"})
        assert await Worker(fast_settings, database, queue).run_job(job_id)
    finally:
        queue.flush()
        await database.dispose()
    [job_span] = [span for span in exporter.get_finished_spans() if span.name == "job tests.write_line"]
    assert job_span.context.trace_id == request_span.get_span_context().trace_id
    assert job_span.parent is not None
    assert job_span.parent.span_id == request_span.get_span_context().span_id


async def test_an_idle_worker_runs_a_job_enqueued_here_and_its_retries_when_due_without_polling(
    tmp_path: Path, database_url: str
) -> None:
    # Polling alone would look again only after 30 s: the hand-over and the due times must wake the worker.
    settings = make_settings(tmp_path / "data", database_url, **{**FAST, "job_poll_interval_seconds": 30.0})
    database = Database(settings)
    popped = asyncio.Event()

    class Watched(JobQueue):
        async def pop_async(self) -> uuid.UUID | None:
            job_id = await super().pop_async()
            popped.set()
            return job_id

    queue = Watched(settings)
    job_queue.install(queue)
    worker = Worker(settings, database, queue)
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(popped.wait(), timeout=10)
        job_id = await _enqueue(database, "tests.always_fails", {"note": "at the bench"}, max_attempts=3)

        async def dead() -> Job | None:
            async with database.read_session() as session:
                job = await session.get(Job, job_id, populate_existing=True)
            return job if job is not None and job.state == JobState.DEAD else None

        job = await eventually(dead, within=15)
        assert job.attempts == 3
    finally:
        worker.stop()
        await asyncio.wait_for(running, timeout=15)
        job_queue.install(None)
        queue.flush()
        await database.dispose()
