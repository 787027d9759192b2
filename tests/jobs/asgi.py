"""The real app for subprocess tests, with the caller named by test headers instead of a token.

Token authentication belongs to the identity domain; these tests exercise jobs,
the relay and the feed across processes, so they override ``current_actor`` the
same way in-process route tests do: ``X-Test-Tenant`` and ``X-Test-Role``.
Run with ``python -m uvicorn tests.jobs.asgi:create --factory``; never shipped.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI, Request

from seqtrack.app import create_app
from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import current_actor
from seqtrack.identity.permissions import Role, permissions_for
from seqtrack.settings import get_settings


async def _actor_from_headers(request: Request) -> Actor:
    role = Role(request.headers.get("X-Test-Role", Role.MANAGER.value))
    return Actor(
        tenant_id=uuid.UUID(request.headers["X-Test-Tenant"]),
        kind="user",
        principal_id=uuid.uuid5(uuid.NAMESPACE_URL, request.headers["X-Test-Tenant"]),
        display=f"{role.value}@facility.example",
        role=role,
        permissions=permissions_for(role),
    )


def create() -> FastAPI:
    app = create_app(get_settings())
    app.dependency_overrides[current_actor] = _actor_from_headers
    return app
