"""Backup outcomes for /metrics (the api's when it runs the worker, else the worker's metrics port).

The counter is per process (the worker's nightly job); the newest success and
failure times are read from the event store at each scrape, whoever took the backup.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from seqtrack.events import history
from seqtrack.platform.database import Database

# The event names live here (not in service.py) so /metrics can read them without the write path.
BACKUP_COMPLETED = "backup.completed"
BACKUP_FAILED = "backup.failed"
BACKUP_AGGREGATE = "backup"

BACKUPS = Counter("seqtrack_backups_total", "Backups taken, by outcome (succeeded, failed).", ["outcome"])
BACKUP_LAST_SUCCESS = Gauge(
    "seqtrack_backup_last_success_timestamp_seconds", "When the newest successful backup finished (Unix time)."
)
BACKUP_LAST_FAILURE = Gauge(
    "seqtrack_backup_last_failure_timestamp_seconds", "When the newest failed backup gave up (Unix time)."
)
BACKUP_DURATION = Gauge("seqtrack_backup_duration_seconds", "How long the newest successful backup took.")
BACKUP_SIZE = Gauge("seqtrack_backup_size_bytes", "Bytes in the newest successful backup (database and files).")


async def refresh(database: Database) -> None:
    """The newest backup outcomes from the event store, at each scrape.

    Backups are taken by the worker, by ``seqtrack backup`` run from cron or a
    Kubernetes CronJob (a process no one scrapes), or by hand; each records its
    outcome as an event, so every api replica reports the same newest times.
    """
    async with database.read_session() as session:
        newest = await history.newest_of_each_type(session, BACKUP_AGGREGATE)
    # 0 when there has never been one: "older than 26 hours" then holds, as it should.
    success = newest.get(BACKUP_COMPLETED)
    BACKUP_LAST_SUCCESS.set(success.timestamp() if success else 0)
    failure = newest.get(BACKUP_FAILED)
    BACKUP_LAST_FAILURE.set(failure.timestamp() if failure else 0)
