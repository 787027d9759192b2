"""The nightly backup: a consistent backup, then the retention policy, outcome in metrics and audit."""

from __future__ import annotations

from seqtrack.jobs import registry
from seqtrack.operations import service

BACKUP_TASK = "operations.backup"


@registry.task(BACKUP_TASK, max_attempts=3, timeout_seconds=6 * 3600)
async def nightly_backup(ctx: registry.JobContext, *, tick: str | None = None) -> None:
    if not ctx.settings.backup_nightly:
        return
    await service.run_backup(ctx.settings, ctx.database, started_by="nightly backup")
    # Only after a success: a failing night must never delete the backups that still work.
    service.apply_retention(ctx.settings)


registry.schedule("operations.backup.nightly", BACKUP_TASK, cron="41 1 * * *")
