"""Backup outcomes for /metrics (the api's when it runs the worker, else the worker's metrics port).

A process that restarts forgets the last success; the alert rules read these with
``max_over_time`` over a window longer than a day, so Prometheus remembers for it.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

BACKUPS = Counter("seqtrack_backups_total", "Backups taken, by outcome (succeeded, failed).", ["outcome"])
BACKUP_LAST_SUCCESS = Gauge(
    "seqtrack_backup_last_success_timestamp_seconds", "When the newest successful backup finished (Unix time)."
)
BACKUP_LAST_FAILURE = Gauge(
    "seqtrack_backup_last_failure_timestamp_seconds", "When the newest failed backup gave up (Unix time)."
)
BACKUP_DURATION = Gauge("seqtrack_backup_duration_seconds", "How long the newest successful backup took.")
BACKUP_SIZE = Gauge("seqtrack_backup_size_bytes", "Bytes in the newest successful backup (database and files).")
