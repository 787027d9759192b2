"""Rate limits per API key, per user and per address, per class of route; shared by replicas through Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from seqtrack.app import create_app
from seqtrack.identity import service as identity_service
from seqtrack.identity.permissions import Permission, Role
from seqtrack.platform.database import Database
from seqtrack.settings import Settings
from tests.fixtures.database import CHEAP_PASSWORD_HASHING, empty_all_tables, make_settings
from tests.fixtures.identity import Member, make_member, make_tenant
from tests.fixtures.processes import base_env, fleet
from tests.fixtures.services import REDIS_URL

LIMITS = {"rate_limit_reads": "3/minute", "rate_limit_writes": "2/minute", "rate_limit_exports": "1/minute"}


async def _token(http: httpx.AsyncClient, member: Member) -> dict[str, str]:
    answer = await http.post("/api/v1/auth/token", json={"email": member.email, "password": member.password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
async def limited(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=LIMITS))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def test_a_user_past_the_read_limit_gets_429_with_retry_after_and_ratelimit_headers(
    limited: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    alice, bob = await make_member(database, tenant, Role.MANAGER), await make_member(database, tenant, Role.MANAGER)
    as_alice, as_bob = await _token(limited, alice), await _token(limited, bob)
    assert [(await limited.get("/api/v1/samples", headers=as_alice)).status_code for _ in range(3)] == [200] * 3
    refused = await limited.get("/api/v1/samples", headers=as_alice)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-limit"] == "3"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert "reads" in refused.json()["detail"]
    # Another person's requests are theirs; exports and writes are counted apart from reads.
    assert (await limited.get("/api/v1/samples", headers=as_bob)).status_code == 200
    assert (await limited.get("/api/v1/samples/export.csv", headers=as_alice)).status_code == 200
    assert (await limited.get("/api/v1/samples/export.csv", headers=as_alice)).status_code == 429
    patched = await limited.patch("/api/v1/samples/settings", json={}, headers=as_alice)
    assert patched.status_code != 429


async def test_an_api_key_has_a_budget_of_its_own(limited: httpx.AsyncClient, database: Database) -> None:
    tenant = await make_tenant(database)
    owner = await make_member(database, tenant, Role.MANAGER)
    async with database.write_session() as session:
        _key, secret = await identity_service.create_api_key(
            session, owner.actor, name="pipeline", permissions=[Permission.SAMPLES_READ], expires_at=None
        )
    as_key = {"Authorization": f"Bearer {secret}"}
    as_owner = await _token(limited, owner)
    assert [(await limited.get("/api/v1/samples", headers=as_key)).status_code for _ in range(4)] == [200] * 3 + [429]
    assert (await limited.get("/api/v1/samples", headers=as_owner)).status_code == 200


async def test_requests_without_credentials_are_counted_per_address(limited: httpx.AsyncClient) -> None:
    statuses = [(await limited.get("/api/v1/samples")).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(120)
async def test_two_api_processes_sharing_redis_share_the_count(tmp_path: Path, postgres_url: str) -> None:
    await empty_all_tables(postgres_url)
    setup = make_settings(tmp_path / "setup", postgres_url)
    database = Database(setup)
    try:
        member = await make_member(database, await make_tenant(database), Role.MANAGER)
    finally:
        await database.dispose()
    prefix = f"test-{secrets.token_hex(6)}"
    env = base_env(
        data_dir=str(tmp_path / "data"),
        database_url=postgres_url,
        redis_url=REDIS_URL,
        # One installation, one secret: e-mail lookups use an index keyed by it.
        secret_key=setup.signing_key(),
        event_bus_prefix=prefix,
        queue_name=prefix,
        rate_limit_reads="4/minute",
        **{key: str(value) for key, value in CHEAP_PASSWORD_HASHING.items()},
    )
    with fleet(tmp_path / "logs") as processes:
        url_a, url_b = processes.apis(["api-a", "api-b"], env)
        async with (
            httpx.AsyncClient(base_url=url_a, timeout=10) as a,
            httpx.AsyncClient(base_url=url_b, timeout=10) as b,
        ):
            headers = await _token(a, member)
            statuses = [(await replica.get("/api/v1/samples", headers=headers)).status_code for replica in (a, b, a, b)]
            assert statuses == [200, 200, 200, 200]
            refused = await b.get("/api/v1/samples", headers=headers)
            assert refused.status_code == 429, processes.logs_text()
            assert "retry-after" in refused.headers
