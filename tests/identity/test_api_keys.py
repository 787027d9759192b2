"""API keys: a subset of the owner's permissions, shown once, stored hashed, revocable at once."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from fastapi.routing import RouteContext
from sqlalchemy import select

from seqtrack.identity.models import ApiKey
from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from tests.fixtures.identity import make_member, make_tenant
from tests.identity.helpers import access_token, audit_actions, bearer, patch
from tests.identity.test_attack_matrix import PARAM, api_routes, classify


async def test_a_read_only_key_can_list_is_refused_writes_and_stops_working_once_revoked(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_member(database, await make_tenant(database), Role.ADMIN)
    token = await access_token(client, admin)
    created = await client.post(
        "/api/v1/api-keys", json={"name": "LIMS sync", "permissions": ["users:read"]}, headers=bearer(token)
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith(f"stk_{created.json()['prefix']}_")

    assert (await client.get("/api/v1/users", headers=bearer(key))).status_code == 200
    write = await client.post("/api/v1/labs", json={"name": "Virology"}, headers=bearer(key))
    assert write.status_code == 403

    revoked = await client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=bearer(token))
    assert revoked.status_code == 200
    assert (await client.get("/api/v1/users", headers=bearer(key))).status_code == 401
    assert await audit_actions(database, uuid.UUID(created.json()["id"])) == ["api_key.created", "api_key.revoked"]


async def test_the_secret_is_shown_once_and_stored_only_as_a_hash(
    client: httpx.AsyncClient, database: Database
) -> None:
    member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    token = await access_token(client, member)
    body = {"name": "sequencer", "permissions": ["samples:read"]}
    created = (await client.post("/api/v1/api-keys", json=body, headers=bearer(token))).json()
    secret = created["key"].split("_", 2)[2]

    listed = (await client.get("/api/v1/api-keys", headers=bearer(token))).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    assert "key" not in listed[0]
    async with database.read_session() as session:
        stored = await session.scalar(select(ApiKey))
    assert stored is not None
    assert secret not in {stored.secret_hash, stored.prefix, stored.name}


async def test_a_key_cannot_carry_a_permission_its_owner_lacks(client: httpx.AsyncClient, database: Database) -> None:
    submitter = await make_member(database, await make_tenant(database), Role.SUBMITTER)
    token = await access_token(client, submitter)
    response = await client.post(
        "/api/v1/api-keys", json={"name": "too strong", "permissions": ["users:manage"]}, headers=bearer(token)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "permissions"


async def test_a_key_loses_what_its_owner_loses_and_records_its_last_use(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = await make_member(database, tenant, Role.ADMIN)
    manager = await make_member(database, tenant, Role.MANAGER)
    key = (
        await client.post(
            "/api/v1/api-keys",
            json={"name": "reports", "permissions": ["users:read", "samples:read"]},
            headers=bearer(await access_token(client, manager)),
        )
    ).json()
    me = (await client.get("/api/v1/me", headers=bearer(key["key"]))).json()
    assert me["kind"] == "api_key"
    assert set(me["permissions"]) == {"users:read", "samples:read"}

    demoted = await patch(
        client, f"/api/v1/users/{manager.user_id}", {"role": "technician"}, await access_token(client, admin)
    )
    assert demoted.status_code == 200
    me = (await client.get("/api/v1/me", headers=bearer(key["key"]))).json()
    assert me["permissions"] == ["samples:read"]
    async with database.read_session() as session:
        stored = await session.get(ApiKey, uuid.UUID(key["id"]))
    assert stored is not None
    assert stored.last_used_at is not None


async def test_an_expired_key_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    token = await access_token(client, member)
    past = await client.post(
        "/api/v1/api-keys",
        json={"name": "old", "permissions": ["samples:read"], "expires_at": "2001-01-01T00:00:00Z"},
        headers=bearer(token),
    )
    assert past.status_code == 422
    key = (
        await client.post(
            "/api/v1/api-keys",
            json={"name": "short", "permissions": ["samples:read"], "expires_at": "2999-01-01T00:00:00Z"},
            headers=bearer(token),
        )
    ).json()
    async with database.write_session() as session:
        stored = await session.get(ApiKey, uuid.UUID(key["id"]))
        assert stored is not None
        stored.expires_at = stored.created_at
    assert (await client.get("/api/v1/me", headers=bearer(key["key"]))).status_code == 401


async def test_a_made_up_or_malformed_key_is_refused(client: httpx.AsyncClient) -> None:
    for key in ("stk_deadbeef_" + "x" * 43, "stk_", "stk__"):
        assert (await client.get("/api/v1/me", headers=bearer(key))).status_code == 401


async def test_a_samples_read_key_lists_samples_is_refused_a_sample_write_and_is_dead_once_revoked(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    routes = api_routes(app)
    lists = [
        r.path for m, r in routes if m == "GET" and not PARAM.search(r.path or "") and _needs(r, m, "samples:read")
    ]
    writes = [(m, r.path) for m, r in routes if m in {"POST", "PATCH", "PUT"} and _needs(r, m, "samples:write")]
    assert lists
    assert writes
    member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    token = await access_token(client, member)
    created = (
        await client.post(
            "/api/v1/api-keys", json={"name": "pipeline", "permissions": ["samples:read"]}, headers=bearer(token)
        )
    ).json()
    key = created["key"]
    assert (await client.get(lists[0] or "", headers=bearer(key))).status_code == 200
    method, path = writes[0]
    write_path = PARAM.sub(lambda _: str(uuid.uuid4()), path or "")
    assert (await client.request(method, write_path, json={}, headers=bearer(key))).status_code == 403
    await client.delete(f"/api/v1/api-keys/{created['id']}", headers=bearer(token))
    assert (await client.get(lists[0] or "", headers=bearer(key))).status_code == 401


def _needs(route: RouteContext, method: str, permission: str) -> bool:
    rule = classify(route, method)
    return rule is not None and permission in {p.value for p in rule.permissions}
