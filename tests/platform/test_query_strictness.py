"""A misspelt query parameter is refused by name on every route, not silently ignored."""

from __future__ import annotations

import re
import uuid

import httpx
from fastapi import FastAPI

from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from tests.fixtures.actors import staff_actor
from tests.fixtures.identity import make_tenant
from tests.fixtures.samples import act_as

MISSPELT = "statuss"


def _get_paths(app: FastAPI) -> list[str]:
    paths = []
    for path, operations in app.openapi()["paths"].items():
        if "get" in operations and path.startswith("/api/v1/") and "openapi" not in path:
            paths.append(re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path))
    return sorted(paths)


async def test_every_route_refuses_a_parameter_it_does_not_declare(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    act_as(app, staff_actor(await make_tenant(database), role=Role.ADMIN))
    paths = _get_paths(app)
    for list_route in ("/api/v1/users", "/api/v1/labs", "/api/v1/jobs", "/api/v1/webhooks", "/api/v1/audit"):
        assert list_route in paths
    for path in paths:
        refused = await client.get(path, params={MISSPELT: "qc"})
        assert refused.status_code == 422, (path, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["detail"] == f"Unknown query parameter: {MISSPELT}", path


async def test_declared_parameters_still_filter(app: FastAPI, client: httpx.AsyncClient, database: Database) -> None:
    act_as(app, staff_actor(await make_tenant(database), role=Role.ADMIN))
    for path, params in (
        ("/api/v1/jobs", {"state": "dead", "limit": "5"}),
        ("/api/v1/audit", {"order": "asc", "action": "sample.created"}),
        ("/api/v1/events/stream", {"follow": "false"}),
        ("/api/v1/samples", {"status": "qc", "project": "P-1"}),
    ):
        answered = await client.get(path, params=params)
        assert answered.status_code == 200, (path, answered.text)
