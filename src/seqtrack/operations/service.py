"""Backups as operations the facility can see: each outcome is an event, an audit entry and a metric."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import structlog

from seqtrack.events.recorder import DomainEvent, record
from seqtrack.operations import backup, metrics
from seqtrack.operations.metrics import BACKUP_AGGREGATE, BACKUP_COMPLETED, BACKUP_FAILED
from seqtrack.platform.actor import SYSTEM_TENANT_ID, Actor
from seqtrack.platform.database import Database
from seqtrack.platform.models import new_id, utcnow
from seqtrack.settings import Settings

log = structlog.get_logger("seqtrack.backup")


async def run_backup(
    settings: Settings, database: Database, destination: Path | None = None, *, started_by: str = "seqtrack backup"
) -> backup.Manifest:
    """Take a backup (default: a new directory under the backup folder) and record how it went."""
    target = destination or settings.backups / backup.backup_name(utcnow())
    started = time.monotonic()
    actor = Actor.system(SYSTEM_TENANT_ID, started_by)
    try:
        manifest = await backup.take_backup(settings, target)
    except Exception as exc:
        metrics.BACKUPS.labels(outcome="failed").inc()
        metrics.BACKUP_LAST_FAILURE.set(time.time())
        log.error("backup failed", location=str(target), error=str(exc))
        await _record(database, actor, BACKUP_FAILED, {"location": str(target), "error": str(exc)[:2000]})
        raise
    elapsed = time.monotonic() - started
    size = manifest.size_bytes + (target / manifest.database).stat().st_size
    metrics.BACKUPS.labels(outcome="succeeded").inc()
    metrics.BACKUP_LAST_SUCCESS.set(time.time())
    metrics.BACKUP_DURATION.set(elapsed)
    metrics.BACKUP_SIZE.set(size)
    await _record(
        database,
        actor,
        BACKUP_COMPLETED,
        {
            "location": str(target),
            "engine": manifest.engine,
            "schema_revision": manifest.schema_revision,
            "rows": manifest.rows,
            "files": len(manifest.files),
            "bytes": size,
            "seconds": round(elapsed, 3),
        },
    )
    log.info("backup completed", location=str(target), rows=manifest.rows, files=len(manifest.files), bytes=size)
    return manifest


async def _record(database: Database, actor: Actor, event_type: str, data: dict[str, object]) -> None:
    aggregate_id: uuid.UUID = new_id()
    async with database.write_session() as session:
        await record(
            session,
            DomainEvent(type=event_type, aggregate_type=BACKUP_AGGREGATE, aggregate_id=aggregate_id, data=data),
            actor,
            version=1,
        )


def apply_retention(settings: Settings) -> list[Path]:
    removed = backup.prune(settings.backups, settings.backup_keep_daily, settings.backup_keep_weekly)
    for path in removed:
        log.info("old backup removed", location=str(path))
    return removed
