"""The ``/api/v1`` router: each domain contributes its own routes here."""

from __future__ import annotations

from fastapi import APIRouter

from seqtrack.identity.routes import router as identity_router

API_PREFIX = "/api/v1"


def build_api_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    router.include_router(identity_router)
    return router
