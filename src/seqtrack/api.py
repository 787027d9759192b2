"""The ``/api/v1`` router: each domain contributes its own routes here."""

from __future__ import annotations

from fastapi import APIRouter

API_PREFIX = "/api/v1"


def build_api_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    return router
