"""Log-in, refresh rotation, log-out, lockout and rate limits over HTTP."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select

from seqtrack.app import create_app
from seqtrack.audit.models import AuditEntry
from seqtrack.identity import tokens
from seqtrack.identity.models import User
from seqtrack.identity.ratelimit import LoginLimiter
from seqtrack.platform.database import Database
from seqtrack.platform.errors import TooManyRequests
from seqtrack.platform.models import utcnow
from seqtrack.platform.permissions import Role, permissions_for
from seqtrack.settings import Settings
from tests.fixtures.database import empty_all_tables, make_settings
from tests.fixtures.identity import Member, join_facility, make_member, make_tenant, new_password
from tests.fixtures.services import REDIS_URL
from tests.identity.helpers import patch


async def _log_in(client: httpx.AsyncClient, member: Member, password: str | None = None) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", json={"email": member.email, "password": password or member.password}
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _comparable(problem: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in problem.items() if key not in {"error_id", "request_id"}}


async def _actions(database: Database, member: Member) -> list[str]:
    async with database.read_session() as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_id == member.user_id).order_by(AuditEntry.sequence)
        )
        return list(rows.all())


@pytest.fixture
async def member(database: Database) -> Member:
    return await make_member(database, await make_tenant(database), Role.TECHNICIAN)


async def test_a_user_logs_in_and_the_token_says_who_they_are(client: httpx.AsyncClient, member: Member) -> None:
    response = await _log_in(client, member)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert 0 < body["expires_in"] <= 15 * 60
    assert body["tenant"] == member.tenant_slug

    me = await client.get("/api/v1/me", headers=_bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["user_id"] == str(member.user_id)
    assert me.json()["role"] == "technician"
    assert set(me.json()["permissions"]) == set(permissions_for(Role.TECHNICIAN))


async def test_the_access_token_pins_algorithm_issuer_audience_and_carries_a_jti(
    client: httpx.AsyncClient, member: Member, settings: Settings
) -> None:
    token = (await _log_in(client, member)).json()["access_token"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert claims["iss"] == "seqtrack"
    assert claims["aud"] == "seqtrack-api"
    assert claims["tid"] == str(member.tenant_id)
    assert {"exp", "jti", "auth_time", "sub"} <= claims.keys()


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    client: httpx.AsyncClient, member: Member
) -> None:
    wrong = await _log_in(client, member, new_password())
    unknown = await client.post(
        "/api/v1/auth/token", json={"email": "nobody-" + member.email, "password": new_password()}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert _comparable(wrong.json()) == _comparable(unknown.json())


async def test_five_wrong_passwords_lock_the_account_and_the_right_one_is_refused_until_it_expires(
    client: httpx.AsyncClient, member: Member, database: Database
) -> None:
    for _ in range(5):
        assert (await _log_in(client, member, new_password())).status_code == 401
    refused = await _log_in(client, member)
    assert refused.status_code == 401

    actions = await _actions(database, member)
    assert actions.count("user.login_failed") == 5
    assert "user.locked_out" in actions
    assert actions[-1] == "user.login_refused"

    # Let the lock run out (as if 15 minutes had passed): the right password works again.
    async with database.write_session() as session:
        user = await session.get(User, member.user_id)
        assert user is not None
        assert user.locked_until is not None
        user.locked_until = utcnow() - timedelta(seconds=1)
    assert (await _log_in(client, member)).status_code == 200


async def test_a_refresh_token_rotates_and_a_reused_one_revokes_the_whole_family(
    client: httpx.AsyncClient, member: Member, database: Database
) -> None:
    first = (await _log_in(client, member)).json()
    second = (await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    assert second["refresh_token"] != first["refresh_token"]

    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    newest = await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert newest.status_code == 401
    assert (await client.get("/api/v1/me", headers=_bearer(second["access_token"]))).status_code == 401
    assert "user.refresh_token_reused" in await _actions(database, member)


async def test_log_out_ends_the_refresh_token_and_its_access_tokens(client: httpx.AsyncClient, member: Member) -> None:
    pair = (await _log_in(client, member)).json()
    assert (await client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})).status_code == 204
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})).status_code == 401
    assert (await client.get("/api/v1/me", headers=_bearer(pair["access_token"]))).status_code == 401


async def test_an_expired_or_foreign_token_is_refused(
    client: httpx.AsyncClient, member: Member, settings: Settings
) -> None:
    expired, _ = tokens.issue_access_token(
        settings,
        user_id=member.user_id,
        tenant_id=member.tenant_id,
        auth_time=utcnow() - timedelta(hours=1),
        session_family=None,
        now=utcnow() - timedelta(hours=1),
    )
    other_key = jwt.encode(
        {"sub": str(member.user_id), "tid": str(member.tenant_id), "iss": "seqtrack", "aud": "seqtrack-api"},
        secrets.token_urlsafe(32),
        algorithm="HS256",
    )
    unsigned = jwt.encode({"sub": str(member.user_id), "tid": str(member.tenant_id)}, "", algorithm="none")
    for token in (expired, other_key, unsigned, "not-a-token"):
        response = await client.get("/api/v1/me", headers=_bearer(token))
        assert response.status_code == 401, token
        assert response.headers["www-authenticate"] == "Bearer"


async def test_a_disabled_user_is_refused_on_the_next_request(
    client: httpx.AsyncClient, database: Database, member: Member
) -> None:
    token = (await _log_in(client, member)).json()["access_token"]
    admin = await make_member(database, member.tenant_id, Role.ADMIN)
    admin_token = (await _log_in(client, admin)).json()["access_token"]
    disabled = await patch(client, f"/api/v1/users/{member.user_id}", {"status": "disabled"}, admin_token)
    assert disabled.status_code == 200
    assert (await client.get("/api/v1/me", headers=_bearer(token))).status_code == 401


async def test_a_member_of_two_facilities_signs_in_to_the_last_one_used_unless_naming_another(
    client: httpx.AsyncClient, database: Database, member: Member
) -> None:
    other = await make_tenant(database)
    slug = await join_facility(database, member, Role.AUDITOR, other)

    # Never signed in yet: the first facility the account joined, and the answer says which.
    unnamed = await _log_in(client, member)
    assert unnamed.status_code == 200, unnamed.text
    assert unnamed.json()["tenant"] == member.tenant_slug

    named = await client.post(
        "/api/v1/auth/token", json={"email": member.email, "password": member.password, "tenant": slug}
    )
    assert named.json()["tenant"] == slug
    me = await client.get("/api/v1/me", headers=_bearer(named.json()["access_token"]))
    assert me.json()["tenant_id"] == str(other)
    assert me.json()["role"] == "auditor"

    # Switching is remembered: the next log-in without a name opens the facility used last.
    again = await _log_in(client, member)
    assert again.status_code == 200, again.text
    assert again.json()["tenant"] == slug
    me_again = await client.get("/api/v1/me", headers=_bearer(again.json()["access_token"]))
    assert me_again.json()["role"] == "auditor"


@pytest.fixture
async def limited_client(tmp_path: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path / "limited", database_url, login_rate_limit_per_account="3/minute")
    async with LifespanManager(create_app(settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_too_many_attempts_on_one_account_get_429_with_retry_after_and_ratelimit_headers(
    limited_client: httpx.AsyncClient,
) -> None:
    body = {"email": f"someone-{secrets.token_hex(4)}@facility.example", "password": new_password()}
    statuses = [(await limited_client.post("/api/v1/auth/token", json=body)).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    limited = await limited_client.post("/api/v1/auth/token", json=body)
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["ratelimit-limit"] == "3"
    assert limited.headers["ratelimit-remaining"] == "0"
    assert int(limited.headers["ratelimit-reset"]) >= 1


@pytest.mark.redis
async def test_the_rate_limit_is_shared_through_redis(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, redis_url=REDIS_URL, login_rate_limit_per_account="2/minute")
    prefix = f"test-{secrets.token_hex(6)}"
    email = f"someone-{secrets.token_hex(4)}@facility.example"
    first, second = LoginLimiter(settings, key_prefix=prefix), LoginLimiter(settings, key_prefix=prefix)
    await first.check("10.0.0.1", email)
    await second.check("10.0.0.2", email)
    with pytest.raises(TooManyRequests):
        await first.check("10.0.0.3", email)


@pytest.mark.postgres
async def test_concurrent_wrong_passwords_are_each_counted_and_lock_the_account(
    tmp_path: Path, postgres_url: str
) -> None:
    await empty_all_tables(postgres_url)
    settings = make_settings(tmp_path / "race", postgres_url)
    database = Database(settings)
    try:
        member = await make_member(database, await make_tenant(database), Role.TECHNICIAN)
        async with LifespanManager(create_app(settings)) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                attempts = await asyncio.gather(*(_log_in(http, member, new_password()) for _ in range(5)))
                assert [response.status_code for response in attempts] == [401] * 5
                assert (await _log_in(http, member)).status_code == 401
        actions = await _actions(database, member)
    finally:
        await database.dispose()
    assert actions.count("user.login_failed") == 5
    assert actions.count("user.locked_out") == 1
