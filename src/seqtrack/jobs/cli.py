"""``seqtrack worker`` (run by :func:`run_worker`) and ``seqtrack jobs dead|retry``.

Imports happen inside the commands: the CLI starts fast whichever command is run.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from seqtrack.platform.cli import fail

if TYPE_CHECKING:
    from seqtrack.jobs.probes import WorkerProbes
    from seqtrack.settings import Settings

jobs_app = typer.Typer(no_args_is_help=True, help="Inspect and replay background jobs.")


async def _run_worker(settings: Settings, probes: WorkerProbes | None = None) -> None:
    import signal

    import structlog

    from seqtrack.jobs.runtime import BackgroundServices
    from seqtrack.platform.database import Database

    database = Database(settings)
    services = BackgroundServices(settings, database, with_worker=True)
    assert services.worker is not None
    loop = asyncio.get_running_loop()
    if probes is not None:
        probes.attach(loop, database)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, services.worker.stop)
    try:
        await services.run_worker_until_stopped()
    finally:
        await database.dispose()
        structlog.get_logger("seqtrack.worker").info("worker stopped", worker=services.worker.name)


def run_worker(settings: Settings) -> None:
    from seqtrack.platform.logging import configure_logging
    from seqtrack.platform.tracing import configure_tracing

    configure_logging(json_logs=settings.json_logs, level=settings.log_level)
    configure_tracing(settings, role="worker")
    probes = None
    if settings.worker_metrics_port is not None:
        from seqtrack.jobs.probes import WorkerProbes

        probes = WorkerProbes(settings.host, settings.worker_metrics_port)
        probes.start()
    try:
        asyncio.run(_run_worker(settings, probes))
    finally:
        if probes is not None:
            probes.stop()


async def _dead(settings: Settings, limit: int) -> list[dict[str, object]]:
    from seqtrack.jobs import service
    from seqtrack.platform.database import Database

    database = Database(settings)
    try:
        async with database.read_session() as session:
            rows = await service.dead_jobs(session, limit)
        return [
            {
                "id": str(job.id),
                "task": job.task,
                "tenant_id": str(job.tenant_id) if job.tenant_id else None,
                "attempts": job.attempts,
                "args": job.args,
                "last_error": job.last_error,
                "traceback": job.traceback,
                "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            }
            for job in rows
        ]
    finally:
        await database.dispose()


async def _retry(settings: Settings, job_id: uuid.UUID) -> str:
    from seqtrack.jobs import queue, service
    from seqtrack.jobs.runtime import BackgroundServices
    from seqtrack.platform.database import Database

    database = Database(settings)
    services = BackgroundServices(settings, database, with_worker=False)
    queue.install(services.queue)
    try:
        async with database.write_session() as session:
            job = await service.retry_dead_job(session, job_id)
            return job.task
    finally:
        queue.install(None)
        await database.dispose()


@jobs_app.command("dead")
def dead(limit: Annotated[int, typer.Option(help="How many to list.")] = 100) -> None:
    """List dead jobs (all tenants) as JSON lines."""
    from seqtrack.platform.cli import load_settings

    for row in asyncio.run(_dead(load_settings(), limit)):
        typer.echo(json.dumps(row, default=str))


@jobs_app.command("retry")
def retry(job_id: Annotated[uuid.UUID, typer.Argument(help="The dead job's id.")]) -> None:
    """Put a dead job back on the queue."""
    from seqtrack.platform.cli import load_settings
    from seqtrack.platform.errors import DomainError

    try:
        task = asyncio.run(_retry(load_settings(), job_id))
    except DomainError as exc:
        fail(exc.detail)
    typer.echo(f"job {job_id} ({task}) queued again")
