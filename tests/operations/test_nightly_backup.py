"""The nightly backup job: a new backup, old ones thinned out, the outcome in /metrics and the audit trail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import REGISTRY
from sqlalchemy import select

from seqtrack.audit.models import AuditEntry
from seqtrack.jobs import registry
from seqtrack.operations import backup
from seqtrack.operations.metrics import BACKUP_COMPLETED, BACKUP_FAILED
from seqtrack.operations.tasks import BACKUP_TASK, nightly_backup
from seqtrack.platform.database import Database
from seqtrack.settings import Settings
from tests.operations.support import populate


def _context(settings: Settings, database: Database) -> registry.JobContext:
    return registry.JobContext(database=database, settings=settings, job_id=uuid.uuid4(), attempt=1, tenant_id=None)


def _fake_backup(directory: Path, moment: datetime) -> None:
    path = directory / backup.backup_name(moment)
    path.mkdir(parents=True)
    (path / backup.MANIFEST_NAME).write_text("{}")


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_nightly_job_backs_up_keeps_n_daily_and_m_weekly_and_reports(
    settings: Settings, database: Database
) -> None:
    await populate(database, settings, samples=2)
    settings = settings.model_copy(update={"backup_keep_daily": 3, "backup_keep_weekly": 2})
    now = datetime.now(UTC).replace(microsecond=0)
    # Four weeks of nightly backups already on disk.
    for days_ago in range(1, 29):
        _fake_backup(settings.backups, now - timedelta(days=days_ago))
    succeeded_before = _sample("seqtrack_backups_total", outcome="succeeded")

    await nightly_backup(_context(settings, database))

    kept = backup.backups_in(settings.backups)
    kept_days = sorted({moment.date() for moment, _ in kept}, reverse=True)
    nights = [now - timedelta(days=days_ago) for days_ago in range(29)]
    two_newest_weeks = sorted({night.isocalendar()[:2] for night in nights}, reverse=True)[:2]
    newest_of_those_weeks = {max(n for n in nights if n.isocalendar()[:2] == week).date() for week in two_newest_weeks}
    three_newest_days = {night.date() for night in nights[:3]}
    assert set(kept_days) == three_newest_days | newest_of_those_weeks
    assert len(kept) == len(three_newest_days | newest_of_those_weeks)
    newest = kept[0][1]
    assert backup.read_manifest(newest).tables["samples"] == 2
    assert _sample("seqtrack_backups_total", outcome="succeeded") == succeeded_before + 1
    assert _sample("seqtrack_backup_last_success_timestamp_seconds") >= now.timestamp() - 1
    async with database.read_session() as session:
        actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "backup")))
    assert actions == [BACKUP_COMPLETED]


async def test_a_failed_backup_is_counted_audited_and_deletes_nothing(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the backup folder should be")
    _fake_backup(tmp_path / "old", datetime.now(UTC) - timedelta(days=40))
    settings = settings.model_copy(update={"backup_dir": blocked})
    failed_before = _sample("seqtrack_backups_total", outcome="failed")

    try:
        await nightly_backup(_context(settings, database))
    except OSError:
        pass
    else:
        raise AssertionError("the job must fail so the queue retries it and dead-letters it in the end")

    assert _sample("seqtrack_backups_total", outcome="failed") == failed_before + 1
    assert _sample("seqtrack_backup_last_failure_timestamp_seconds") > 0
    async with database.read_session() as session:
        actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "backup")))
    assert actions == [BACKUP_FAILED]
    assert len(backup.backups_in(tmp_path / "old")) == 1


def test_the_backup_runs_every_night_on_the_worker() -> None:
    registry.load_task_modules([])
    nightly = [plan for plan in registry.schedules() if plan.task == BACKUP_TASK]
    assert len(nightly) == 1
    assert nightly[0].current_tick(datetime(2026, 12, 1, 1, 41, tzinfo=UTC)) is not None
    assert nightly[0].current_tick(datetime(2026, 12, 1, 13, 41, tzinfo=UTC)) is None
