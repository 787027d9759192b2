"""/metrics reports what the dashboard and alerts read: samples by state, overdue samples, dead letters, backups."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import update

from seqtrack.jobs.models import Job, JobState
from seqtrack.operations.service import run_backup
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.samples.models import Sample
from seqtrack.settings import Settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.identity import make_tenant
from tests.fixtures.samples import new_sample


def _value(exposition: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", exposition, re.MULTILINE)
    assert match is not None, f"{series} not in /metrics"
    return float(match.group(1))


async def test_metrics_count_samples_overdue_samples_dead_jobs_and_backups(
    client: httpx.AsyncClient, database: Database, settings: Settings, tmp_path: Path
) -> None:
    tenant_id = await make_tenant(database)
    actor = staff_actor(tenant_id)
    samples = [await new_sample(database, actor, name=f"Metric-{number}") for number in range(3)]
    async with database.write_session() as session:
        # Set-up: one sample whose turnaround target passed yesterday, one dead job.
        await session.execute(
            update(Sample).where(Sample.id == samples[0].id).values(due_at=utcnow() - timedelta(days=1))
        )
        session.add(Job(task="webhooks.deliver", args={}, state=JobState.DEAD, max_attempts=1, timeout_seconds=1))

    exposition = (await client.get("/metrics")).text
    assert _value(exposition, f'seqtrack_samples{{status="submitted",tenant="{tenant_id}"}}') == 3
    assert _value(exposition, f'seqtrack_samples_overdue{{tenant="{tenant_id}"}}') == 1
    assert _value(exposition, "seqtrack_jobs_dead") == 1
    assert _value(exposition, "seqtrack_backup_last_success_timestamp_seconds") == 0

    before = utcnow().timestamp()
    await run_backup(settings, database, tmp_path / "backup")
    exposition = (await client.get("/metrics")).text
    assert _value(exposition, "seqtrack_backup_last_success_timestamp_seconds") >= before - 1
