"""Job metrics for /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

JOBS = Counter(
    "seqtrack_jobs_total",
    "Jobs by task and outcome (enqueued, succeeded, failed, dead).",
    ["task", "outcome"],
)
JOB_DURATION = Histogram(
    "seqtrack_job_duration_seconds",
    "Time a job's handler ran, by task.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0),
)
QUEUE_DEPTH = Gauge("seqtrack_job_queue_depth", "Jobs waiting to run (ledger rows queued or awaiting a retry).")
