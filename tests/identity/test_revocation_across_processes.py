"""Two real api processes on one PostgreSQL and Redis: a change made on one holds on the other within a second."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from tests.fixtures.database import CHEAP_PASSWORD_HASHING, empty_all_tables, make_settings
from tests.fixtures.identity import Member, make_member, make_tenant
from tests.fixtures.processes import base_env, fleet
from tests.fixtures.services import REDIS_URL
from tests.identity.helpers import bearer

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

WITHIN_SECONDS = 1.0


@dataclass
class Replicas:
    a: httpx.AsyncClient
    b: httpx.AsyncClient
    admin: Member
    member: Member


async def _token(client: httpx.AsyncClient, member: Member) -> str:
    response = await client.post("/api/v1/auth/token", json={"email": member.email, "password": member.password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture
async def replicas(tmp_path: Path, postgres_url: str) -> AsyncIterator[Replicas]:
    await empty_all_tables(postgres_url)
    setup = make_settings(tmp_path / "setup", postgres_url)
    database = Database(setup)
    try:
        tenant = await make_tenant(database)
        admin = await make_member(database, tenant, Role.ADMIN)
        member = await make_member(database, tenant, Role.TECHNICIAN)
    finally:
        await database.dispose()
    env = base_env(
        data_dir=str(tmp_path / "data"),
        database_url=postgres_url,
        redis_url=REDIS_URL,
        # One installation, one secret: e-mail lookups use an index keyed by it.
        secret_key=setup.signing_key(),
        # Apart from other runs sharing this Redis; a long cache life, so only the announcement can drop it.
        event_bus_prefix=f"test-{secrets.token_hex(6)}",
        queue_name=f"test-{secrets.token_hex(6)}",
        auth_cache_seconds="30",
        **{key: str(value) for key, value in CHEAP_PASSWORD_HASHING.items()},
    )
    with fleet(tmp_path / "logs") as processes:
        url_a, url_b = processes.apis(["api-a", "api-b"], env)
        async with (
            httpx.AsyncClient(base_url=url_a, timeout=10) as a,
            httpx.AsyncClient(base_url=url_b, timeout=10) as b,
        ):
            yield Replicas(a, b, admin, member)


async def _holds_within(check: Callable[[], object], seconds: float = WITHIN_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if await check():  # type: ignore[misc]  # each check is an async function
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)


async def _change_user(replicas: Replicas, admin_token: str, body: dict[str, object]) -> None:
    url = f"/api/v1/users/{replicas.member.user_id}"
    read = await replicas.a.get(url, headers=bearer(admin_token))
    changed = await replicas.a.patch(url, json=body, headers={**bearer(admin_token), "If-Match": read.headers["etag"]})
    assert changed.status_code == 200, changed.text


async def test_a_revoked_key_a_changed_role_and_a_disabled_user_hold_on_the_other_replica_within_a_second(
    replicas: Replicas,
) -> None:
    a, b = replicas.a, replicas.b
    admin_token = await _token(a, replicas.admin)
    member_token = await _token(a, replicas.member)
    created = await a.post(
        "/api/v1/api-keys", json={"name": "sync", "permissions": ["samples:read"]}, headers=bearer(member_token)
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]

    # B resolves both credentials, and keeps them.
    assert (await b.get("/api/v1/me", headers=bearer(key))).status_code == 200
    assert (await b.get("/api/v1/me", headers=bearer(member_token))).json()["role"] == "technician"

    revoked = await a.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=bearer(member_token))
    assert revoked.status_code == 200

    async def key_refused() -> bool:
        return (await b.get("/api/v1/me", headers=bearer(key))).status_code == 401

    assert await _holds_within(key_refused)

    assert (await b.get("/api/v1/me", headers=bearer(member_token))).json()["role"] == "technician"
    await _change_user(replicas, admin_token, {"role": "manager"})

    async def role_changed() -> bool:
        role: str = (await b.get("/api/v1/me", headers=bearer(member_token))).json()["role"]
        return role == "manager"

    assert await _holds_within(role_changed)

    await _change_user(replicas, admin_token, {"status": "disabled"})

    async def user_refused() -> bool:
        return (await b.get("/api/v1/me", headers=bearer(member_token))).status_code == 401

    assert await _holds_within(user_refused)
