"""Liveness, readiness and metrics endpoints (outside ``/api/v1``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, Response

from seqtrack.platform import metrics
from seqtrack.platform.database import Database
from seqtrack.platform.migrations import head_revision

ReadinessCheck = Callable[[], Awaitable[None]]
# Domains whose gauges are counted from the database at scrape time (storage occupancy);
# the app wiring lists them, so the platform imports no domain.
MetricsRefresher = Callable[[Database], Awaitable[None]]
READINESS_TIMEOUT_SECONDS = 3.0

log = structlog.get_logger("seqtrack.health")
router = APIRouter(include_in_schema=False)


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive; touches no dependency."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    """Every dependency this process needs answers; 503 names the ones that do not."""
    checks: dict[str, ReadinessCheck] = request.app.state.readiness_checks
    results = await asyncio.gather(*(_run(name, check) for name, check in checks.items()))
    failing = {name: reason for name, reason in results if reason is not None}
    body = {
        "status": "ready" if not failing else "unavailable",
        "checks": {name: failing.get(name, "ok") for name in checks},
    }
    if failing:
        body["detail"] = "Not ready: " + ", ".join(f"{name} ({reason})" for name, reason in failing.items())
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


async def _run(name: str, check: ReadinessCheck) -> tuple[str, str | None]:
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            await check()
    except TimeoutError:
        return name, f"no answer within {READINESS_TIMEOUT_SECONDS:g}s"
    except Exception as exc:
        log.warning("readiness check failed", check=name, error=str(exc))
        return name, _short(exc)
    return name, None


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


@router.get("/metrics")
async def prometheus_metrics(request: Request) -> Response:
    database: Database = request.app.state.database
    in_use, size = database.pool_status()
    metrics.DB_POOL_IN_USE.set(in_use)
    metrics.DB_POOL_SIZE.set(size)
    refreshers: list[MetricsRefresher] = getattr(request.app.state, "metrics_refreshers", [])
    for refresh in refreshers:
        await refresh(database)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def database_checks(database: Database) -> dict[str, ReadinessCheck]:
    async def database_reachable() -> None:
        await database.check_reachable()
        current = await database.current_revision()
        head = head_revision()
        if current != head:
            raise RuntimeError(f"migrations not at head (database {current}, code {head})")

    return {"database": database_reachable}
