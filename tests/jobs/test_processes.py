"""Acceptance with real processes: api replicas, workers, SIGKILL, schedules across workers."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from seqtrack.identity import tokens
from seqtrack.jobs import service as jobs_service
from seqtrack.jobs.models import Job, JobState
from seqtrack.jobs.queue import JobQueue
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.platform.permissions import Role
from seqtrack.settings import Settings
from tests.fixtures.database import empty_all_tables, make_settings, sqlite_copy
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.processes import Fleet, base_env, fleet, free_port
from tests.fixtures.services import NATS_URL, REDIS_URL
from tests.jobs.support import eventually, read_sse

# Among the slowest tests of the suite: run first, so the suite does not end waiting on them.
pytestmark = pytest.mark.slow

FAST_ENV = {
    "secret_key": secrets.token_urlsafe(48),
    "job_retry_base_seconds": "0.05",
    "job_retry_max_seconds": "0.2",
    "job_poll_interval_seconds": "0.05",
    "job_sweep_interval_seconds": "0.3",
    "relay_poll_interval_seconds": "0.05",
    "extra_task_modules": "tests.jobs.tasks",
    "webhook_allow_private_networks": "true",
    "log_format": "json",
}


def _env(**settings: str) -> dict[str, str]:
    return base_env(**FAST_ENV, **settings)


async def _bearer_for_a_new_manager(env: dict[str, str]) -> dict[str, str]:
    """A real user of a new tenant and an access token the spawned servers accept."""
    settings = Settings(
        _env_file=None,
        data_dir=Path(env["SEQTRACK_DATA_DIR"]),
        database_url=env.get("SEQTRACK_DATABASE_URL"),
        secret_key=env["SEQTRACK_SECRET_KEY"],
    )
    database = Database(settings)
    try:
        manager = await make_member(database, await make_tenant(database), Role.MANAGER)
    finally:
        await database.dispose()
    token, _ = tokens.issue_access_token(
        settings, user_id=manager.user_id, tenant_id=manager.tenant_id, auth_time=utcnow(), session_family=None
    )
    return {"Authorization": f"Bearer {token}"}


async def _event_through_a_reaches_a_feed_on_b(a: str, b: str, processes: Fleet, env: dict[str, str]) -> None:
    caller = await _bearer_for_a_new_manager(env)
    async with (
        httpx.AsyncClient(timeout=30) as http,
        http.stream("GET", f"{b}/api/v1/events/stream", headers=caller) as response,
    ):
        assert response.status_code == 200, await response.aread()
        lines: AsyncIterator[str] = response.aiter_lines()
        assert (await anext(lines)).startswith("retry:")
        created = await http.post(
            f"{a}/api/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "event_types": ["sample.status_changed"]},
            headers=caller,
        )
        assert created.status_code == 201, created.text
        try:
            [event] = await read_sse(lines, 1, within=20)
        except TimeoutError:
            pytest.fail(f"no event reached the feed on B\n{processes.logs_text()}")
    assert event["event"] == "webhook.created"
    assert event["data"]["aggregate_id"] == created.json()["id"]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.nats
async def test_scaled_out_an_event_committed_on_one_api_reaches_a_feed_client_of_another(
    tmp_path: Path, postgres_url: str
) -> None:
    await empty_all_tables(postgres_url)
    name = f"t{secrets.token_hex(5)}"
    env = _env(
        database_url=postgres_url,
        redis_url=REDIS_URL,
        event_bus_url=NATS_URL,
        queue_name=name,
        event_bus_prefix=name,
        data_dir=str(tmp_path / "data"),
        # Only a bus notification can wake B's feed in time: no polling rescue.
        feed_poll_interval_seconds="120",
    )
    try:
        with fleet(tmp_path / "logs") as processes:
            processes.worker("worker-1", env)
            processes.worker("worker-2", env)
            a, b = processes.apis(["api-a", "api-b"], env)
            async with httpx.AsyncClient(timeout=10) as http:
                ready = (await http.get(f"{b}/ready")).json()
            assert ready["checks"]["event_bus"] == "ok"
            await _event_through_a_reaches_a_feed_on_b(a, b, processes, env)
    finally:
        await _drop_nats_stream(name)
        JobQueue(make_settings(tmp_path, redis_url=REDIS_URL, queue_name=name)).flush()


async def _drop_nats_stream(prefix: str) -> None:
    import nats

    from seqtrack.events.bus import stream_name

    client = await nats.connect(NATS_URL, connect_timeout=3)
    try:
        js = client.jetstream()
        with contextlib.suppress(Exception):
            await js.delete_stream(stream_name(make_settings(Path("/nonexistent"), event_bus_prefix=prefix)))
    finally:
        await client.close()


async def test_embedded_an_event_committed_on_one_api_reaches_a_feed_client_of_another(
    tmp_path: Path, sqlite_template: Path
) -> None:
    data_dir = tmp_path / "data"
    sqlite_copy(sqlite_template, data_dir)
    env = _env(data_dir=str(data_dir), feed_poll_interval_seconds="0.5")
    with fleet(tmp_path / "logs") as processes:
        a, b = processes.apis(["api-a", "api-b"], env)
        await _event_through_a_reaches_a_feed_on_b(a, b, processes, env)


async def test_a_job_held_by_a_worker_killed_with_sigkill_runs_again_after_restart(
    tmp_path: Path, sqlite_template: Path
) -> None:
    data_dir = tmp_path / "data"
    sqlite_copy(sqlite_template, data_dir)
    env = _env(data_dir=str(data_dir), job_lease_seconds="1.5")
    settings = make_settings(data_dir, job_lease_seconds=1.5)
    marker = tmp_path / "marker.txt"
    database = Database(settings)
    try:
        async with database.write_session() as session:
            job = await jobs_service.enqueue(session, "tests.hang_first_time", {"path": str(marker)})
        JobQueue(settings).push(job.id)
        with fleet(tmp_path / "logs") as processes:
            first = processes.worker("worker-1", env)
            await eventually(_exists(marker), within=30)
            first.kill()
            assert first.popen.returncode == -9
            metrics_port = free_port()
            processes.worker("worker-2", {**env, "SEQTRACK_WORKER_METRICS_PORT": str(metrics_port)})

            async def finished() -> Job | None:
                async with database.read_session() as session:
                    row = await session.get(Job, job.id, populate_existing=True)
                return row if row is not None and row.state == JobState.SUCCEEDED else None

            try:
                done = await eventually(finished, within=30)
            except AssertionError:
                pytest.fail(f"the job did not run again\n{processes.logs_text()}")
            async with httpx.AsyncClient(timeout=10) as http:
                exposition = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        assert 'seqtrack_jobs_total{outcome="succeeded",task="tests.hang_first_time"} 1.0' in exposition
        assert done.attempts == 2
        lines = marker.read_text().splitlines()
        assert lines[0].startswith("started")
        assert lines[-1].startswith("done")
    finally:
        await database.dispose()


def _exists(path: Path) -> Any:
    async def check() -> bool:
        return path.exists()

    return check


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_scheduled_task_with_two_workers_runs_once_per_tick(tmp_path: Path, postgres_url: str) -> None:
    await empty_all_tables(postgres_url)
    name = f"t{secrets.token_hex(5)}"
    tick_log = tmp_path / "ticks.txt"
    env = _env(
        database_url=postgres_url,
        redis_url=REDIS_URL,
        queue_name=name,
        data_dir=str(tmp_path / "data"),
        test_tick_log=str(tick_log),
    )
    try:
        with fleet(tmp_path / "logs") as processes:
            processes.worker("worker-1", env)
            processes.worker("worker-2", env)

            async def four_ticks() -> list[str] | None:
                lines = tick_log.read_text().splitlines() if tick_log.exists() else []
                return lines if len(lines) >= 4 else None

            try:
                await eventually(four_ticks, within=30)
            except AssertionError:
                pytest.fail(f"the schedule did not tick\n{processes.logs_text()}")
            processes.stop_all()
        ticks = Counter(line.split()[1] for line in tick_log.read_text().splitlines())
        assert ticks, "no tick ran"
        assert max(ticks.values()) == 1, ticks
        database = Database(make_settings(tmp_path, postgres_url))
        try:
            async with database.read_session() as session:
                jobs = (await session.scalars(select(Job).where(Job.task == "tests.write_line"))).all()
        finally:
            await database.dispose()
        assert len(jobs) == len({job.args["tick"] for job in jobs})
    finally:
        JobQueue(make_settings(tmp_path, redis_url=REDIS_URL, queue_name=name)).flush()
        await asyncio.sleep(0)
