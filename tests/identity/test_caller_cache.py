"""A caller is resolved once per request, reused for a moment, and never outlives a change to the account."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from seqtrack.identity import service
from seqtrack.identity.callers import CallerCache, ChangeListener
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from tests.fixtures.database import make_settings
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.services import REDIS_URL
from tests.fixtures.statements import counting_statements
from tests.identity.helpers import access_token, bearer, patch


def _reads_accounts(statements: list[str]) -> list[str]:
    return [statement for statement in statements if "FROM users" in statement or "JOIN users" in statement]


async def test_a_role_change_through_the_api_shows_on_the_next_request(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = await make_member(database, tenant, Role.ADMIN)
    member = await make_member(database, tenant, Role.TECHNICIAN)
    token = await access_token(client, member)
    assert (await client.get("/api/v1/me", headers=bearer(token))).json()["role"] == "technician"

    changed = await patch(
        client, f"/api/v1/users/{member.user_id}", {"role": "manager"}, await access_token(client, admin)
    )
    assert changed.status_code == 200
    assert (await client.get("/api/v1/me", headers=bearer(token))).json()["role"] == "manager"


async def test_a_lab_change_and_a_disable_show_on_the_next_request(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    admin = await make_member(database, tenant, Role.ADMIN)
    submitter = await make_member(database, tenant, Role.SUBMITTER, lab_names=["Virology"])
    token = await access_token(client, submitter)
    assert (await client.get("/api/v1/me", headers=bearer(token))).json()["lab_ids"] == [str(*submitter.lab_ids)]

    admin_token = await access_token(client, admin)
    assert (await patch(client, f"/api/v1/users/{submitter.user_id}", {"lab_ids": []}, admin_token)).status_code == 200
    assert (await client.get("/api/v1/me", headers=bearer(token))).json()["lab_ids"] == []
    assert (await patch(client, f"/api/v1/users/{submitter.user_id}", {"status": "disabled"}, admin_token)).is_success
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_a_change_made_outside_the_api_in_this_process_reaches_the_api_at_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    # The test's Database is not the app's: as for the CLI, only the shared database connects them.
    tenant = await make_tenant(database)
    member = await make_member(database, tenant, Role.TECHNICIAN)
    token = await access_token(client, member)
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    async with database.write_session() as session:
        await service.update_member(session, Actor.system(tenant), member.user_id, status="disabled")
    assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_a_caller_seen_a_moment_ago_is_served_without_reading_the_account_again(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
    token = await access_token(client, member)
    with counting_statements(app.state.database) as first:
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    with counting_statements(app.state.database) as second:
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
    assert len(_reads_accounts(first.sent)) == 1
    assert _reads_accounts(second.sent) == []


async def test_a_read_resolves_its_caller_with_one_statement_on_the_routes_own_connection(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_member(database, await make_tenant(database), Role.ADMIN)
    token = await access_token(client, admin)
    with counting_statements(app.state.database) as statements:
        listed = await client.get("/api/v1/users", headers=bearer(token))
    assert listed.status_code == 200
    # The caller's account, then the route's own list of members: one session, one connection.
    account_reads = [sent for sent in statements.executed if _reads_accounts([sent.statement])]
    assert len(account_reads) == 2
    assert len({id(sent.connection) for sent in account_reads}) == 1


def _some_actor() -> Actor:
    return Actor.system(uuid.uuid4())


async def _trusted_within(cache: CallerCache, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cache.trusted_until > time.monotonic():
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.mark.redis
async def test_with_redis_callers_are_reused_only_while_the_change_channel_is_heard(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, redis_url=REDIS_URL, event_bus_prefix=f"test-{secrets.token_hex(6)}")
    cache = CallerCache(settings)
    account = uuid.uuid4()
    cache.put("caller", _some_actor(), account_id=account, security_version=1, expires_at=None)
    assert cache.get("caller") is None

    listener = ChangeListener(settings, cache)
    await listener.start()
    try:
        assert await _trusted_within(cache, 5)
        cache.put("caller", _some_actor(), account_id=account, security_version=1, expires_at=None)
        assert cache.get("caller") is not None
    finally:
        await listener.stop()
    assert cache.get("caller") is None


async def test_with_redis_unreachable_every_caller_is_resolved_from_the_database(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, redis_url="redis://127.0.0.1:9/0")
    cache = CallerCache(settings)
    listener = ChangeListener(settings, cache)
    await listener.start()
    try:
        assert not await _trusted_within(cache, 0.3)
        cache.put("caller", _some_actor(), account_id=uuid.uuid4(), security_version=1, expires_at=None)
        assert cache.get("caller") is None
    finally:
        await listener.stop()


def test_a_resolution_that_raced_a_change_is_not_kept(tmp_path: Path) -> None:
    cache = CallerCache(make_settings(tmp_path))
    account = uuid.uuid4()
    cache.forget({account: 4})
    cache.put("before", _some_actor(), account_id=account, security_version=3, expires_at=None)
    cache.put("after", _some_actor(), account_id=account, security_version=4, expires_at=None)
    assert cache.get("before") is None
    assert cache.get("after") is not None
