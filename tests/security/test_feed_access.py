"""An open live feed ends within a second of log-out, key revocation or disabling the user."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from seqtrack.app import create_app
from seqtrack.identity import service as identity_service
from seqtrack.identity.permissions import Permission, Role
from seqtrack.platform.database import Database
from tests.fixtures.database import make_settings
from tests.fixtures.identity import Member, make_member, make_tenant
from tests.jobs.support import FAST, serve_in_process

WITHIN_SECONDS = 1.0


async def _ends_within_a_second(
    database_url: str,
    tmp_path: Path,
    open_feed: Callable[[httpx.AsyncClient, Member, Database], Awaitable[str]],
    end_access: Callable[[httpx.AsyncClient, Member, Database], Awaitable[None]],
) -> float:
    # The default keep-alive (15 s): only the announcement of the change may end the stream in time.
    settings = make_settings(tmp_path / "data", database_url, **FAST)
    database = Database(settings)
    try:
        tenant = await make_tenant(database)
        await make_member(database, tenant, Role.ADMIN)
        member = await make_member(database, tenant, Role.MANAGER)
        async with serve_in_process(create_app(settings)) as base, httpx.AsyncClient(base_url=base, timeout=20) as http:
            credential = await open_feed(http, member, database)
            async with http.stream(
                "GET", "/api/v1/events/stream", headers={"Authorization": f"Bearer {credential}"}
            ) as response:
                assert response.status_code == 200
                lines = response.aiter_lines()
                assert (await anext(lines)).startswith("retry:")
                await end_access(http, member, database)
                ended = time.monotonic()
                async with asyncio.timeout(10):
                    remaining = [line async for line in lines]
                took = time.monotonic() - ended
        assert "event: access-revoked" in remaining
        return took
    finally:
        await database.dispose()


async def _log_in(http: httpx.AsyncClient, member: Member) -> dict[str, str]:
    answer = await http.post("/api/v1/auth/token", json={"email": member.email, "password": member.password})
    assert answer.status_code == 200, answer.text
    tokens: dict[str, str] = answer.json()
    return tokens


@pytest.mark.timeout(60)
async def test_the_feed_ends_within_a_second_of_logging_out(tmp_path: Path, database_url: str) -> None:
    refresh: list[str] = []

    async def open_feed(http: httpx.AsyncClient, member: Member, _database: Database) -> str:
        tokens = await _log_in(http, member)
        refresh.append(tokens["refresh_token"])
        return tokens["access_token"]

    async def log_out(http: httpx.AsyncClient, _member: Member, _database: Database) -> None:
        assert (await http.post("/api/v1/auth/logout", json={"refresh_token": refresh[0]})).status_code == 204

    assert await _ends_within_a_second(database_url, tmp_path, open_feed, log_out) < WITHIN_SECONDS


@pytest.mark.timeout(60)
async def test_the_feed_ends_within_a_second_of_revoking_its_api_key(tmp_path: Path, database_url: str) -> None:
    keys = []

    async def open_feed(_http: httpx.AsyncClient, member: Member, database: Database) -> str:
        async with database.write_session() as session:
            key, secret = await identity_service.create_api_key(
                session, member.actor, name="wallboard", permissions=[Permission.EVENTS_READ], expires_at=None
            )
        keys.append(key.id)
        return secret

    async def revoke(_http: httpx.AsyncClient, member: Member, database: Database) -> None:
        async with database.write_session() as session:
            await identity_service.revoke_api_key(session, member.actor, keys[0])

    assert await _ends_within_a_second(database_url, tmp_path, open_feed, revoke) < WITHIN_SECONDS


@pytest.mark.timeout(60)
async def test_the_feed_ends_within_a_second_of_disabling_the_user(tmp_path: Path, database_url: str) -> None:
    async def open_feed(http: httpx.AsyncClient, member: Member, _database: Database) -> str:
        return (await _log_in(http, member))["access_token"]

    async def disable(_http: httpx.AsyncClient, member: Member, database: Database) -> None:
        async with database.write_session() as session:
            await identity_service.update_member(session, member.actor, member.user_id, status="disabled")

    assert await _ends_within_a_second(database_url, tmp_path, open_feed, disable) < WITHIN_SECONDS
