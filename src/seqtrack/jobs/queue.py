"""huey as the transport between whoever enqueues and the workers.

huey carries only a job id. The ledger row in our database is the truth about
the job, so a message lost or duplicated in transit costs a delay or a no-op
claim, never a lost or doubled job.
"""

from __future__ import annotations

import asyncio
import datetime
import heapq
import time
import uuid
from typing import TYPE_CHECKING, Any

from seqtrack.platform.wakeup import Doorbell

if TYPE_CHECKING:
    from huey import Huey

    from seqtrack.settings import Settings

WAKE_TASK = "seqtrack.run_job"

# Rung when this process hands the queue a job to run now: idle workers here pop at once.
JOBS_PUSHED = Doorbell()
# Rung when this process hands the queue a delayed wake-up; its due time is in _local_due.
DELAYED_PUSHED = Doorbell()
_local_due: list[float] = []


class JobQueue:
    """SQLite-backed on one machine, Redis-backed when ``SEQTRACK_REDIS_URL`` is set; same calls."""

    def __init__(self, settings: Settings) -> None:
        # huey (and through it the Redis client) loads only in processes that run a queue.
        from huey import RedisHuey, SqliteHuey

        self.settings = settings
        self.huey: Huey
        if settings.redis_url is not None:
            self.huey = RedisHuey(
                name=settings.queue_name,
                url=settings.redis_url.get_secret_value(),
                results=False,
                # Blocking pops with a short timeout: prompt wake-ups without a busy loop.
                blocking=True,
                read_timeout=1,
            )
            self.blocking = True
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey(
                name=settings.queue_name,
                filename=str((settings.data_dir / "jobs.db").resolve()),
                results=False,
                timeout=30,
            )
            self.blocking = False

        def wake(job_id: str) -> None:  # pragma: no cover - never executed by huey's consumer
            raise RuntimeError("SeqTrack workers run jobs from the ledger, not through huey's consumer")

        self._wake: Any = self.huey.task(name=WAKE_TASK)(wake)

    def push(self, job_id: uuid.UUID, delay_seconds: float = 0.0) -> None:
        task = self._wake.s(str(job_id))
        if delay_seconds > 0:
            # huey's own schedule(): the wake-up waits in its schedule store, which
            # the workers promote when due (see promote_due).
            task.eta = _utc_naive_now() + datetime.timedelta(seconds=delay_seconds)
            self.huey.add_schedule(task)
        else:
            self.huey.enqueue(task)

    async def push_async(self, job_id: uuid.UUID, delay_seconds: float = 0.0) -> None:
        await asyncio.to_thread(self.push, job_id, delay_seconds)
        if delay_seconds > 0:
            heapq.heappush(_local_due, time.monotonic() + delay_seconds)
            DELAYED_PUSHED.ring()
        else:
            JOBS_PUSHED.ring()

    def pop(self) -> uuid.UUID | None:
        task = self.huey.dequeue()
        if task is None:
            return None
        if task.eta is not None and task.eta > _utc_naive_now():
            self.huey.add_schedule(task)
            return None
        try:
            return uuid.UUID(str(task.args[0]))
        except (IndexError, ValueError):
            return None

    async def pop_async(self) -> uuid.UUID | None:
        return await asyncio.to_thread(self.pop)

    def promote_due(self) -> int:
        """Move delayed wake-ups whose time has come onto the queue (huey's scheduler does this too)."""
        due = self.huey.read_schedule()
        for task in due:
            self.huey.enqueue(task)
        return len(due)

    def depth(self) -> int:
        return int(self.huey.pending_count())

    def check(self) -> None:
        self.huey.pending_count()

    def flush(self) -> None:
        self.huey.flush()


def seconds_to_next_local_due() -> float | None:
    """How long until the earliest delayed wake-up this process pushed falls due (None: none pending)."""
    if not _local_due:
        return None
    return max(_local_due[0] - time.monotonic(), 0.0)


def forget_local_due_until(moment: float) -> None:
    """Drop the due times a promotion at monotonic ``moment`` has handled."""
    while _local_due and _local_due[0] <= moment:
        heapq.heappop(_local_due)


def _utc_naive_now() -> datetime.datetime:
    # huey (utc=True) keeps naive UTC datetimes.
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


_current: JobQueue | None = None


def install(queue: JobQueue | None) -> None:
    """Make ``queue`` the one that commits in this process hand their jobs to."""
    global _current
    _current = queue


def current() -> JobQueue | None:
    return _current
