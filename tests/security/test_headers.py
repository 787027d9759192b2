"""Response headers that keep a facility's data out of caches and its clients honest about their address."""

from __future__ import annotations

from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from seqtrack.app import create_app
from seqtrack.settings import Settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as, sample_body


async def test_authenticated_api_answers_and_exports_are_never_stored_by_caches(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor())
    created = await client.post("/api/v1/samples", json=sample_body())
    for response in (
        created,
        await client.get(f"/api/v1/samples/{created.json()['id']}"),
        await client.get("/api/v1/samples"),
        await client.get("/api/v1/samples/export.csv"),
        await client.get("/api/v1/me"),
        await client.get("/api/v1/samples/not-a-uuid"),
    ):
        assert response.headers.get("cache-control") == "no-store", (response.request.url, response.headers)


async def _login_statuses(app: FastAPI, forwarded_for: list[str]) -> list[int]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("10.9.8.7", 40000))
    async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return [
            (
                await client.post(
                    "/api/v1/auth/token",
                    json={"email": f"nobody{index}@lab.example", "password": "not-the-password-1"},
                    headers={"X-Forwarded-For": address},
                )
            ).status_code
            for index, address in enumerate(forwarded_for)
        ]


async def test_forwarded_addresses_count_only_from_a_configured_proxy(settings: Settings, tmp_path: Path) -> None:
    spoofed = [f"203.0.113.{index}" for index in range(4)]
    untrusting = create_app(settings.model_copy(update={"login_rate_limit_per_ip": "3/minute"}))
    assert await _login_statuses(untrusting, spoofed) == [401, 401, 401, 429]

    behind_proxy = settings.model_copy(
        update={"login_rate_limit_per_ip": "3/minute", "trusted_proxies": ["10.9.8.0/24"]}
    )
    assert await _login_statuses(create_app(behind_proxy), spoofed) == [401, 401, 401, 401]
