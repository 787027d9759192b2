"""One bad request costs its sender a 4xx, never the server its responsiveness (issue 18, attacks)."""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text

from seqtrack.app import create_app
from seqtrack.events.recorder import DomainEvent, record
from seqtrack.identity.actor import Actor
from seqtrack.identity.permissions import Role
from seqtrack.platform import logging as platform_logging
from seqtrack.platform.database import Database
from seqtrack.platform.logging import configure_logging
from seqtrack.settings import Settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as, sample_body

API = "/api/v1"


def _nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"next": value}
    return value


async def test_a_null_step_status_is_a_field_error_not_a_crash(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, staff_actor())
    created = (await client.post(f"{API}/samples", json=sample_body())).json()
    response = await client.patch(f"{API}/samples/{created['id']}/steps/1", json={"status": None})
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["status"]
    steps = (await client.get(f"{API}/samples/{created['id']}/steps")).json()
    assert steps[0]["status"] == "pending"


class SlowTerminal(io.StringIO):
    """A console that takes a millisecond per hundred characters, as a remote terminal or full pipe does."""

    def write(self, text: str) -> int:
        time.sleep(len(text) / 100_000)
        return super().write(text)


async def test_health_answers_within_100_ms_while_a_crash_is_being_logged(settings: Settings, tmp_path: Path) -> None:
    app = create_app(settings)
    terminal = SlowTerminal()
    configure_logging(json_logs=False, level="INFO", stream=terminal)
    ballast = "freezer-map " * 20_000

    @app.get("/api/v1/crash")
    async def crash() -> None:
        def dive(depth: int, carried: str) -> None:
            if depth == 0:
                raise RuntimeError("tube rack fell over")
            dive(depth - 1, carried)

        dive(600, ballast)

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        crashing = asyncio.create_task(client.get("/api/v1/crash"))
        await asyncio.sleep(0)
        started = time.perf_counter()
        health = await client.get("/health")
        waited = time.perf_counter() - started
        crashed = await crashing
    platform_logging.flush()
    assert health.status_code == 200
    assert crashed.status_code == 500
    assert waited < 0.1, f"/health waited {waited * 1000:.0f} ms behind a crash report"
    written = terminal.getvalue()
    assert "tube rack fell over" in written
    # No local variables, and a bounded report however deep the recursion was.
    assert "freezer-map" not in written
    assert len(written) < 40_000, len(written)


async def test_json_nested_deeper_than_32_levels_is_refused_naming_the_body(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    act_as(app, staff_actor(role=Role.ADMIN))
    for path, method in (
        (f"{API}/samples/settings", "PATCH"),
        (f"{API}/samples", "POST"),
        (f"{API}/auth/token", "POST"),
    ):
        response = await client.request(method, path, json={"deep": _nested(300)}, headers={"If-Match": '"x"'})
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"][0]["field"] == "body"
        assert "32" in response.json()["detail"]
    # Brackets inside strings are text, not nesting.
    accepted = await client.post(f"{API}/samples", json=sample_body(notes="[" * 100))
    assert accepted.status_code == 201, accepted.text


async def test_the_audit_trail_reads_whatever_an_older_entry_holds(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    auditor = staff_actor(role=Role.AUDITOR)
    act_as(app, auditor)
    async with database.write_session() as session:
        await record(
            session,
            DomainEvent(type="SampleSettingsChanged", aggregate_type="tenant_settings", aggregate_id=auditor.tenant_id),
            Actor.system(auditor.tenant_id),
            tenant_id=auditor.tenant_id,
        )
    # Stored before bodies had a depth limit: settings nested far deeper than any reader recurses.
    deep = '{"extra": [null, ' + '{"next": ' * 900 + '"leaf"' + "}" * 900 + "]}"
    async with database.write_session() as session:
        await session.execute(
            text(
                "INSERT INTO audit_entries (id, tenant_id, sequence, occurred_at, actor_kind, actor_display, action,"
                " entity_type, changes, previous_hash, entry_hash) VALUES (:id, :tenant, 2, :at, 'system', 'legacy',"
                " 'SampleSettingsChanged', 'tenant_settings', :changes, :previous, :hash)"
            ),
            {
                "id": uuid.uuid4().hex if database.is_sqlite else uuid.uuid4(),
                "tenant": auditor.tenant_id.hex if database.is_sqlite else auditor.tenant_id,
                "at": datetime.now(UTC),
                "changes": deep,
                "previous": "0" * 64,
                "hash": "0" * 64,
            },
        )
    response = await client.get(f"{API}/audit")
    assert response.status_code == 200, response.text[:500]
    legacy = response.json()["items"][0]
    assert legacy["actor_display"] == "legacy"
    assert "too deeply nested" in json.dumps(legacy["changes"])
