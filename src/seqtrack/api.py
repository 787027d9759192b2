"""The ``/api/v1`` router: each domain contributes its own routes here."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from seqtrack.audit.routes import router as audit_router
from seqtrack.events import routes as events_routes
from seqtrack.identity.deps import recheck_caller, require, watch_access
from seqtrack.identity.routes import router as identity_router
from seqtrack.intake.routes import router as intake_router
from seqtrack.integrations import routes as integrations_routes
from seqtrack.jobs import routes as jobs_routes
from seqtrack.platform.permissions import Permission
from seqtrack.platform.query import refuse_unknown_query_parameters
from seqtrack.samples.report_routes import router as reports_router
from seqtrack.samples.routes import router as samples_router
from seqtrack.sequencing.routes import router as sequencing_router
from seqtrack.storage import routes as storage_routes

API_PREFIX = "/api/v1"


def api_routers() -> list[APIRouter]:
    """Each domain's router, in the order requests are matched against them.

    FastAPI resolves a router's routes when a request is first matched against it, so a request
    to a router late in this list makes an app resolve the ones before it too.
    """
    return [
        samples_router,
        intake_router,
        reports_router,
        audit_router,
        identity_router,
        jobs_routes.router,
        events_routes.build_router(
            require(Permission.EVENTS_READ),
            lambda request: recheck_caller(request, Permission.EVENTS_READ),
            watch_access,
        ),
        integrations_routes.router,
        storage_routes.router,
        storage_routes.scan_router,
        storage_routes.labels_router,
        sequencing_router,
    ]


def build_api_router(routers: list[APIRouter]) -> APIRouter:
    """The ``routers``, to be included under ``API_PREFIX``."""
    # Every route, not only the lists: a misspelt parameter is an error wherever it is sent.
    router = APIRouter(dependencies=[Depends(refuse_unknown_query_parameters)])
    for domain_router in routers:
        router.include_router(domain_router)
    return router
