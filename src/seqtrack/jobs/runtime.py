"""Starts what a process needs besides HTTP: the job queue, the event transport, and maybe a worker.

The API uses it in its lifespan (with a worker on the embedded default), and
``seqtrack worker`` uses it with a worker always; the relay and the event
consumers run wherever a worker runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import structlog

from seqtrack.events.bus import EventTransport
from seqtrack.events.relay import Relay
from seqtrack.jobs import queue as job_queue
from seqtrack.jobs.queue import JobQueue
from seqtrack.jobs.worker import Worker
from seqtrack.platform.database import Database
from seqtrack.settings import Settings

if TYPE_CHECKING:
    # Only a type: a worker process need not load the HTTP framework for it.
    from seqtrack.platform.health import ReadinessCheck

log = structlog.get_logger("seqtrack.runtime")


class BackgroundServices:
    def __init__(self, settings: Settings, database: Database, *, with_worker: bool) -> None:
        self.settings = settings
        self.database = database
        self.queue = JobQueue(settings)
        self.events = EventTransport(settings, database)
        self.relay = Relay(settings, database, self.events.bus, self.events.notifier)
        self.worker: Worker | None = None
        if with_worker:
            self.worker = Worker(settings, database, self.queue, extra_loops=[self.relay.run, self.events.bus.consume])
        self._worker_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        job_queue.install(self.queue)
        await self.events.start()
        if self.worker is not None:
            self._worker_task = asyncio.create_task(self.worker.run())

    async def run_worker_until_stopped(self) -> None:
        assert self.worker is not None
        job_queue.install(self.queue)
        await self.events.start()
        try:
            await self.worker.run()
        finally:
            await self.events.close()

    async def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self._worker_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._worker_task, timeout=15)
        await self.events.close()
        if job_queue.current() is self.queue:
            job_queue.install(None)

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        checks: dict[str, ReadinessCheck] = {}

        async def queue_reachable() -> None:
            await asyncio.to_thread(self.queue.check)

        checks["queue"] = queue_reachable
        if self.settings.event_bus_url:
            checks["event_bus"] = self.events.check
        return checks
