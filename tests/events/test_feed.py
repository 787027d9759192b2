"""The live feed: Server-Sent Events of the caller's tenant, resumable without gaps."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from seqtrack.app import create_app
from seqtrack.events import feed
from seqtrack.events.models import EventRecord
from seqtrack.events.recorder import DomainEvent, record
from seqtrack.identity import service as identity_service
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.platform.models import new_id, utcnow
from seqtrack.platform.permissions import Permission, Role
from seqtrack.settings import Settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.database import make_settings
from tests.fixtures.identity import make_member, make_tenant
from tests.jobs.support import FAST, read_sse, serve_in_process


async def _record(
    database: Database, tenant: uuid.UUID, *, kind: str = "sample.received", data: dict[str, object] | None = None
) -> EventRecord:
    async with database.write_session() as session:
        return await record(
            session,
            DomainEvent(type=kind, aggregate_type="sample", aggregate_id=uuid.uuid4(), data=data or {}),
            staff_actor(tenant),
        )


async def test_the_live_feed_streams_new_events_of_the_callers_tenant_only(
    manager_app: FastAPI, fast_settings: Settings, tenant_id: uuid.UUID
) -> None:
    database = Database(fast_settings)
    try:
        async with (
            serve_in_process(manager_app) as base,
            httpx.AsyncClient(base_url=base, timeout=20) as http,
            http.stream("GET", "/api/v1/events/stream") as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            # The comment line arrives first: the stream is open before we write.
            assert (await anext(lines)).startswith("retry:")
            await _record(database, uuid.uuid4(), data={"note": "another facility"})
            mine = await _record(database, tenant_id, data={"note": "ours"})
            [event] = await read_sse(lines, 1)
        assert event["id"] == mine.position
        assert event["event"] == "sample.received"
        assert event["data"]["id"] == str(mine.id)
        assert event["data"]["data"]["note"] == "ours"
    finally:
        await database.dispose()


async def test_last_event_id_resumes_the_feed_from_the_event_store_without_gaps(
    manager_app: FastAPI, fast_settings: Settings, tenant_id: uuid.UUID
) -> None:
    database = Database(fast_settings)
    try:
        first = await _record(database, tenant_id)
        second = await _record(database, tenant_id)
        third = await _record(database, tenant_id)
        async with serve_in_process(manager_app) as base, httpx.AsyncClient(base_url=base, timeout=20) as http:
            headers = {"Last-Event-ID": str(first.position)}
            async with http.stream("GET", "/api/v1/events/stream", headers=headers) as response:
                events = await read_sse(response.aiter_lines(), 2)
        assert [event["id"] for event in events] == [second.position, third.position]
    finally:
        await database.dispose()


async def test_submitters_see_only_events_of_their_own_labs(fast_settings: Settings) -> None:
    tenant, lab, other_lab = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    base_actor = staff_actor(tenant, Role.SUBMITTER)
    submitter = Actor(
        tenant_id=tenant,
        kind="user",
        principal_id=base_actor.principal_id,
        display="pi@lab.example",
        permissions=base_actor.permissions,
        role=Role.SUBMITTER,
        lab_ids=frozenset({lab}),
    )
    database = Database(fast_settings)
    try:
        start = await feed.latest_position(database)
        await _record(database, tenant, data={"lab_id": str(other_lab)})
        await _record(database, tenant)
        own = await _record(database, tenant, data={"lab_id": str(lab)})
        visible = await feed.events_between(database, submitter, start, own.position)
        assert [event.id for event in visible] == [own.id]
    finally:
        await database.dispose()


async def _insert_at(database: Database, position: int, age_seconds: float) -> None:
    async with database.write_session() as session:
        session.add(
            EventRecord(
                position=position,
                id=new_id(),
                tenant_id=uuid.uuid4(),
                aggregate_type="sample",
                aggregate_id=uuid.uuid4(),
                version=1,
                type="sample.received",
                data={},
                actor_id=None,
                actor_kind="system",
                actor_display="system",
                occurred_at=utcnow() - timedelta(seconds=age_seconds),
            )
        )


async def test_the_feed_waits_at_a_position_still_in_flight_and_skips_it_once_it_is_old(database: Database) -> None:
    # Positions 1, 2 and 4 are committed; 3 belongs to a transaction not yet committed.
    await _insert_at(database, 1, age_seconds=0)
    await _insert_at(database, 2, age_seconds=0)
    await _insert_at(database, 4, age_seconds=0)
    assert await feed.settled_frontier(database, 0, grace_seconds=5) == 2
    # Position 3 shows up: the feed moves on past 4 without ever having skipped it.
    await _insert_at(database, 3, age_seconds=0)
    assert await feed.settled_frontier(database, 2, grace_seconds=5) == 4
    # A hole followed by an event older than the grace is a rolled-back transaction.
    await _insert_at(database, 7, age_seconds=60)
    assert await feed.settled_frontier(database, 4, grace_seconds=5) == 7


async def test_a_feed_without_follow_ends_once_it_has_caught_up(
    manager_client: httpx.AsyncClient, fast_settings: Settings, tenant_id: uuid.UUID
) -> None:
    database = Database(fast_settings)
    try:
        first = await _record(database, tenant_id)
        second = await _record(database, tenant_id)
    finally:
        await database.dispose()
    response = await manager_client.get(
        "/api/v1/events/stream", params={"follow": "false"}, headers={"Last-Event-ID": str(first.position - 1)}
    )
    assert response.status_code == 200
    ids = [int(line[4:]) for line in response.text.splitlines() if line.startswith("id: ")]
    assert ids == [first.position, second.position]


async def test_an_open_feed_ends_when_its_api_key_is_revoked(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path / "data", database_url, **FAST, feed_keepalive_seconds=0.5)
    database = Database(settings)
    try:
        tenant = await make_tenant(database)
        manager = await make_member(database, tenant, Role.MANAGER)
        async with database.write_session() as session:
            key, secret = await identity_service.create_api_key(
                session, manager.actor, name="dashboard", permissions=[Permission.EVENTS_READ], expires_at=None
            )
        async with (
            serve_in_process(create_app(settings)) as base,
            httpx.AsyncClient(base_url=base, timeout=20, headers={"Authorization": f"Bearer {secret}"}) as http,
            http.stream("GET", "/api/v1/events/stream") as response,
        ):
            assert response.status_code == 200
            lines = response.aiter_lines()
            assert (await anext(lines)).startswith("retry:")
            async with database.write_session() as session:
                await identity_service.revoke_api_key(session, manager.actor, key.id)
            async with asyncio.timeout(10):
                remaining = [line async for line in lines]
        assert "event: access-revoked" in remaining
    finally:
        await database.dispose()
