"""`GET /api/v1/audit`: the tenant's own trail, filterable, for those allowed to read it."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from seqtrack.platform.permissions import Role
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as, sample_body


async def test_the_audit_list_shows_only_this_tenants_entries_newest_first(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    acting = act_as(app, staff_actor(role=Role.MANAGER))
    mine = (await client.post("/api/v1/samples", json=sample_body())).json()
    await client.post(f"/api/v1/samples/{mine['id']}/transitions", json={"to": "received", "reason": "arrived"})
    own_tenant = acting.actor
    acting.actor = staff_actor(role=Role.MANAGER)
    await client.post("/api/v1/samples", json=sample_body())

    acting.actor = own_tenant
    page = (await client.get("/api/v1/audit")).json()
    assert [entry["action"] for entry in page["items"]] == ["sample.status_changed", "sample.created"]
    assert page["items"][0]["changes"]["status"] == ["submitted", "received"]
    assert page["items"][0]["actor_display"] == own_tenant.display
    assert page["next_cursor"] is None

    first = (await client.get("/api/v1/audit", params={"limit": 1})).json()
    rest = (await client.get("/api/v1/audit", params={"limit": 1, "cursor": first["next_cursor"]})).json()
    assert [first["items"][0]["sequence"], rest["items"][0]["sequence"]] == [2, 1]

    filtered = (await client.get("/api/v1/audit", params={"action": "sample.created"})).json()["items"]
    assert [entry["entity_id"] for entry in filtered] == [mine["id"]]


async def test_a_technician_may_not_read_the_audit_trail(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor(role=Role.TECHNICIAN))
    response = await client.get("/api/v1/audit")
    assert response.status_code == 403
