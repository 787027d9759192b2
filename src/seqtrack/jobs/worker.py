"""The worker: claims jobs from the ledger, keeps their leases alive, retries, sweeps, schedules.

``seqtrack worker`` runs one; ``seqtrack serve`` on the embedded default runs one
inside the API process so a single command is a whole installation.

An idle worker sleeps rather than polls: a job handed to the queue by this
process rings :data:`seqtrack.jobs.queue.JOBS_PUSHED`, a delayed wake-up is
promoted when it falls due, Redis pops block, and otherwise each loop looks
again after a delay that doubles up to a second (the bound for work handed
over by another process). Schedules sleep until their next tick.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import socket
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable

import structlog
from opentelemetry import propagate
from opentelemetry.trace import SpanKind
from sqlalchemy.exc import IntegrityError

from seqtrack.jobs import metrics, registry, service
from seqtrack.jobs import queue as job_queue
from seqtrack.jobs.models import Job, ScheduleTick
from seqtrack.jobs.queue import JobQueue
from seqtrack.platform.database import Database
from seqtrack.platform.models import new_id, utcnow
from seqtrack.platform.tracing import tracer
from seqtrack.platform.wakeup import IdleBackoff, wait_rung
from seqtrack.settings import Settings

log = structlog.get_logger("seqtrack.worker")


class RetryLater(Exception):
    """Raised by a handler to ask for another attempt after ``seconds`` (e.g. a breaker is open)."""

    def __init__(self, reason: str, seconds: float) -> None:
        super().__init__(reason)
        self.seconds = seconds


class GiveUp(Exception):
    """Raised by a handler that knows more attempts cannot help: the job goes dead now."""


async def _as_coroutine(loop: Callable[[], Awaitable[None]]) -> None:
    await loop()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        queue: JobQueue,
        *,
        name: str | None = None,
        extra_loops: list[Callable[[asyncio.Event], Awaitable[None]]] | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.queue = queue
        self.name = name or worker_name()
        self.extra_loops = extra_loops or []
        self.stopping = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.job_concurrency)
        self._running: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        registry.load_task_modules(self.settings.extra_task_modules)
        if job_queue.current() is None:
            job_queue.install(self.queue)
        log.info("worker started", worker=self.name, queue=self.settings.queue_name)
        loops: list[Callable[[], Awaitable[None]]] = [
            self._consume,
            self._promote_delayed,
            self._sweep_periodically,
            self._run_schedules,
            *(functools.partial(loop, self.stopping) for loop in self.extra_loops),
        ]
        tasks = [asyncio.create_task(_as_coroutine(loop)) for loop in loops]
        try:
            await self.stopping.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._running:
                # Jobs in flight finish or time out; an abandoned one comes back via its lease.
                await asyncio.wait(self._running, timeout=10)

    def stop(self) -> None:
        self.stopping.set()

    async def _consume(self) -> None:
        idle = IdleBackoff(self.settings.job_poll_interval_seconds)
        with job_queue.JOBS_PUSHED.listening() as pushed:
            while not self.stopping.is_set():
                await self._slots.acquire()
                # Cleared before the pop: a job handed over after it rings for the next one.
                pushed.clear()
                try:
                    job_id = await self.queue.pop_async()
                except Exception:
                    self._slots.release()
                    log.exception("job queue unavailable; retrying")
                    await asyncio.sleep(1.0)
                    continue
                if job_id is None:
                    self._slots.release()
                    # A blocking pop has already waited; a non-blocking one waits here.
                    if not self.queue.blocking and await wait_rung(pushed, idle.next_delay()):
                        idle.reset()
                    continue
                idle.reset()
                task = asyncio.create_task(self._run_claimed(job_id))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    async def _run_claimed(self, job_id: uuid.UUID) -> None:
        try:
            await self.run_job(job_id)
        except Exception:
            log.exception("job bookkeeping failed", job_id=str(job_id))
        finally:
            self._slots.release()

    async def run_job(self, job_id: uuid.UUID) -> bool:
        """Claim and run one job; False when it was not ours to run."""
        lease = self.settings.job_lease_seconds
        async with self.database.write_session() as session:
            job = await service.claim(session, job_id, self.name, lease)
            if job is None:
                pending = await session.get(Job, job_id)
        if job is None:
            # Woken early (a retry's wake-up outran its delay): wake again when due.
            if pending is not None and pending.state in service.WAITING_STATES:
                wait = (pending.run_after - utcnow()).total_seconds()
                if wait > 0:
                    await self.queue.push_async(job_id, wait)
            return False

        spec = registry.get_task(job.task)
        structlog.contextvars.bind_contextvars(job_id=str(job.id), task=job.task)
        started = time.monotonic()
        lost = asyncio.Event()
        handler: asyncio.Task[None] | None = None
        heartbeat: asyncio.Task[None] | None = None
        try:
            if spec is None:
                # Retrying cannot help: no worker of this version knows the task.
                raise GiveUp(f"no handler registered for task {job.task!r}")
            context = registry.JobContext(self.database, self.settings, job.id, job.attempts, job.tenant_id)
            with tracer.start_as_current_span(
                f"job {job.task}",
                context=propagate.extract(job.trace_context or {}),
                kind=SpanKind.CONSUMER,
                attributes={"seqtrack.job_id": str(job.id), "seqtrack.attempt": job.attempts},
            ):
                handler = asyncio.create_task(
                    asyncio.wait_for(spec.handler(context, **job.args), timeout=job.timeout_seconds)
                )
                heartbeat = asyncio.create_task(self._heartbeat(job.id, lease, handler, lost))
                await handler
        except asyncio.CancelledError:
            current = asyncio.current_task()
            # Only the heartbeat's cancel is handled here; the worker shutting down still propagates.
            if not lost.is_set() or (current is not None and current.cancelling()):
                raise
            # The job is another worker's now: whatever this run did, its outcome is not ours to record.
            log.warning("job lease lost; handler cancelled, outcome not recorded", attempt=job.attempts)
            metrics.JOBS.labels(task=job.task, outcome="lease_lost").inc()
        except Exception as exc:
            metrics.JOB_DURATION.labels(task=job.task).observe(time.monotonic() - started)
            error = (
                f"timed out after {job.timeout_seconds:g} s"
                if isinstance(exc, TimeoutError)
                else f"{type(exc).__name__}: {exc}"
            )
            retry_after = exc.seconds if isinstance(exc, RetryLater) else None
            async with self.database.write_session() as session:
                delay = await service.mark_failed(
                    session,
                    job,
                    self.name,
                    error,
                    traceback.format_exc(),
                    self.settings,
                    retry_after_seconds=retry_after,
                    final=isinstance(exc, GiveUp),
                )
            if delay is None:
                log.error("job dead after its last attempt", attempts=job.attempts, error=error)
            else:
                log.warning("job failed; will retry", attempt=job.attempts, retry_in=round(delay, 3), error=error)
                await self.queue.push_async(job.id, delay)
        else:
            metrics.JOB_DURATION.labels(task=job.task).observe(time.monotonic() - started)
            async with self.database.write_session() as session:
                await service.mark_succeeded(session, job.id, self.name)
            metrics.JOBS.labels(task=job.task, outcome="succeeded").inc()
            log.info("job succeeded", attempt=job.attempts)
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
            if handler is not None and not handler.done():
                handler.cancel()
            structlog.contextvars.unbind_contextvars("job_id", "task")
        return True

    async def _heartbeat(
        self, job_id: uuid.UUID, lease: float, handler: asyncio.Task[None], lost: asyncio.Event
    ) -> None:
        """Renew the lease until the handler ends; stop the handler once the lease is gone.

        A lease the sweep took back (this worker was frozen, or cut off from the
        database for longer than the lease) means another worker may be running
        the job: carrying on would run it twice.
        """
        renewed = time.monotonic()
        while not handler.done():
            await asyncio.sleep(lease / 3)
            try:
                async with self.database.write_session() as session:
                    held = await service.extend_lease(session, job_id, self.name, lease)
            except Exception:
                log.warning("could not renew job lease", job_id=str(job_id), exc_info=True)
                # Unreachable for a whole lease: the sweep may already have handed the job on.
                held = time.monotonic() - renewed < lease
            else:
                if held:
                    renewed = time.monotonic()
            if not held:
                log.error("job lease lost; stopping this run", job_id=str(job_id))
                lost.set()
                handler.cancel()
                return

    async def _promote_delayed(self) -> None:
        idle = IdleBackoff(max(self.settings.job_poll_interval_seconds, 0.1))
        with job_queue.DELAYED_PUSHED.listening() as scheduled:
            while not self.stopping.is_set():
                scheduled.clear()
                moment = time.monotonic()
                try:
                    promoted = await asyncio.to_thread(self.queue.promote_due)
                except Exception:
                    log.warning("could not read delayed jobs", exc_info=True)
                    await asyncio.sleep(1.0)
                    continue
                job_queue.forget_local_due_until(moment)
                if promoted:
                    job_queue.JOBS_PUSHED.ring()
                    idle.reset()
                wait = idle.next_delay()
                due = job_queue.seconds_to_next_local_due()
                if due is not None:
                    # A hair after the due time: huey compares against its own clock.
                    wait = min(wait, due + 0.005)
                # A new delayed wake-up only shortens the wait; it does not count as work.
                await wait_rung(scheduled, wait)

    async def sweep(self) -> None:
        """Re-queue jobs of dead workers and re-send wake-ups that never arrived."""
        stale_after = self.settings.job_lease_seconds
        async with self.database.read_session() as session:
            waiting, needs_repair = await service.sweep_outlook(session, stale_after)
        revived: list[uuid.UUID] = []
        resend: list[tuple[uuid.UUID, float]] = []
        if needs_repair:
            async with self.database.write_session() as session:
                revived = await service.recover_expired_leases(session)
                resend = await service.stale_waiting_jobs(session, stale_after_seconds=stale_after)
                waiting = await service.count_waiting(session)
        metrics.QUEUE_DEPTH.set(waiting)
        for job_id in revived:
            await self.queue.push_async(job_id)
        for job_id, delay in resend:
            await self.queue.push_async(job_id, delay)
        if revived or resend:
            log.info("sweep re-queued jobs", revived=len(revived), resent=len(resend))
        from seqtrack.jobs import sagas

        await sagas.resume_abandoned(self.database, self.settings, self.name)

    async def _sweep_periodically(self) -> None:
        # The first sweep runs at start: jobs of a worker killed before this one came up wait no longer.
        while not self.stopping.is_set():
            try:
                await self.sweep()
            except Exception:
                log.warning("sweep failed", exc_info=True)
            await asyncio.sleep(self.settings.job_sweep_interval_seconds)

    async def _run_schedules(self) -> None:
        claimed: dict[str, object] = {}
        while not self.stopping.is_set():
            now = utcnow()
            missed = False
            for plan in registry.schedules():
                tick = plan.current_tick(now)
                if tick is None or claimed.get(plan.name) == tick:
                    continue
                try:
                    await self.claim_tick(plan, tick)
                except Exception:
                    # The database is away: try this tick again soon.
                    log.warning("could not claim a schedule tick", schedule=plan.name, exc_info=True)
                    missed = True
                    continue
                claimed[plan.name] = tick
            await asyncio.sleep(1.0 if missed else registry.seconds_to_next_tick(utcnow()))

    async def claim_tick(self, plan: registry.Schedule, tick: object) -> bool:
        """Insert the tick's row; the unique key lets exactly one worker of any number win it."""
        try:
            async with self.database.write_session() as session:
                job = await service.enqueue(session, plan.task, {**plan.args, "tick": tick}, settings=self.settings)
                session.add(
                    ScheduleTick(id=new_id(), schedule=plan.name, tick=tick, job_id=job.id, claimed_by=self.name)
                )
        except IntegrityError:
            return False
        log.info("scheduled job enqueued", schedule=plan.name, tick=str(tick))
        return True
