"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute, iter_route_contexts
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from seqtrack import __version__
from seqtrack.api import API_PREFIX, api_routers, build_api_router
from seqtrack.identity import lifecycle as identity_lifecycle
from seqtrack.identity.deps import resolve_before_writing
from seqtrack.jobs import metrics as jobs_metrics
from seqtrack.jobs.runtime import BackgroundServices
from seqtrack.operations import metrics as operations_metrics
from seqtrack.platform import health, metrics
from seqtrack.platform.database import Database
from seqtrack.platform.deps import install_caller_hook
from seqtrack.platform.hygiene import JsonDepthMiddleware, UrlHygieneMiddleware
from seqtrack.platform.logging import configure_logging
from seqtrack.platform.methods import AllowedMethodsMiddleware
from seqtrack.platform.middleware import (
    BodyLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
    TimeoutMiddleware,
)
from seqtrack.platform.openapi import install_problem_openapi
from seqtrack.platform.problems import install_problem_handlers
from seqtrack.platform.tracing import configure_tracing
from seqtrack.samples import metrics as samples_metrics
from seqtrack.settings import Settings, get_settings
from seqtrack.storage import metrics as storage_metrics
from seqtrack.web.app import install_web

log = structlog.get_logger("seqtrack.app")

OPENAPI_PATH = f"{API_PREFIX}/openapi.json"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(json_logs=settings.json_logs, level=settings.log_level)
    configure_tracing(settings, role="api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings)
        app.state.database = database
        background = BackgroundServices(settings, database, with_worker=settings.runs_embedded_worker)
        app.state.background = background
        app.state.events = background.events
        app.state.readiness_checks = {
            **health.database_checks(database),
            **_redis_checks(settings),
            **background.readiness_checks(),
        }
        metrics.BUILD_INFO.info(
            {
                "version": __version__,
                "database": "sqlite" if database.is_sqlite else "postgresql",
                "environment": settings.environment,
            }
        )
        await identity_lifecycle.on_startup(app, settings, database)
        log.info("seqtrack started", version=__version__, environment=settings.environment)
        await background.start()
        try:
            yield
        finally:
            await background.stop()
            await identity_lifecycle.on_shutdown(app, settings)
            await database.dispose()

    app = FastAPI(
        title="SeqTrack",
        version=__version__,
        summary="Sample tracking for sequencing facilities.",
        openapi_url=OPENAPI_PATH,
        # Served by the web domain from local files: /docs must work on a machine without internet.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics_refreshers = [
        storage_metrics.refresh,
        samples_metrics.refresh,
        jobs_metrics.refresh_dead,
        operations_metrics.refresh,
    ]
    install_caller_hook(app, resolve_before_writing)
    install_problem_handlers(app)
    install_problem_openapi(app)
    app.include_router(health.router)
    domain_routers = api_routers()
    app.include_router(build_api_router(domain_routers), prefix=API_PREFIX)
    install_web(app)

    # Starlette runs the last added middleware first: request context is outermost
    # so even a refused body or a timeout is logged and counted with its request id.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "Idempotency-Key",
                "X-Request-ID",
                "X-CSRF-Token",
            ],
            expose_headers=["ETag", "X-Request-ID", "Retry-After", "Location"],
        )
    app.add_middleware(
        AllowedMethodsMiddleware,
        prefix=API_PREFIX,
        routes=_api_paths(domain_routers),
    )
    app.add_middleware(TimeoutMiddleware, seconds=settings.request_timeout_seconds)
    app.add_middleware(JsonDepthMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        # A multipart upload carries the file plus a few hundred bytes of framing.
        per_path={f"{API_PREFIX}/submissions": settings.intake_max_file_bytes + 64 * 1024},
    )
    app.add_middleware(UrlHygieneMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware)
    if settings.trusted_proxies:
        # Outermost: the client address every later layer (log-in limits, logs) sees is the real one.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app


def _api_paths(routers: list[APIRouter]) -> list[tuple[str, Collection[str]]]:
    paths: list[tuple[str, Collection[str]]] = [(OPENAPI_PATH, {"GET"})]
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.methods:
                paths.append((API_PREFIX + route.path, route.methods))
    return paths


def create_served_app() -> FastAPI:
    """The app as ``seqtrack serve`` runs it: every route ready before the first connection.

    FastAPI resolves a route's dependencies when a request is first matched against its router
    (a few milliseconds a route, about a second for them all), which would make the first
    requests of every new process late. An app built for one test pays only for what it uses.
    """
    app = create_app()
    for _ in iter_route_contexts(app.routes):
        pass
    return app


def _redis_checks(settings: Settings) -> dict[str, health.ReadinessCheck]:
    if settings.redis_url is None:
        return {}
    redis_url = settings.redis_url.get_secret_value()

    async def redis_reachable() -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            await client.ping()
        finally:
            await client.aclose()

    return {"redis": redis_reachable}
