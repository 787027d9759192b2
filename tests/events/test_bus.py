"""The scaled-out transports: NATS JetStream for consumers, Redis pub/sub and NATS for feed wake-ups."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from seqtrack.events.bus import NatsConnection, NatsJetStreamBus, NatsNotifier, Notifier, RedisNotifier, stream_name
from seqtrack.events.recorder import DomainEvent, envelope, record
from seqtrack.integrations.models import WebhookDelivery
from seqtrack.platform.database import Database
from seqtrack.settings import Settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.database import make_settings
from tests.fixtures.services import NATS_URL, REDIS_URL
from tests.fixtures.webhooks import subscribe
from tests.jobs.support import eventually


async def _woken_by_the_other(first: Notifier, second: Notifier) -> None:
    await first.start()
    await second.start()
    try:
        async with second.subscribe() as woken:
            await asyncio.sleep(0.2)  # the subscription reaches the server
            await first.notify(uuid.uuid4())
            await asyncio.wait_for(woken.wait(), timeout=5)
    finally:
        await first.close()
        await second.close()


@pytest.mark.redis
async def test_a_commit_notice_through_redis_wakes_the_feeds_of_another_replica(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, redis_url=REDIS_URL, event_bus_prefix=f"t{secrets.token_hex(5)}")
    await _woken_by_the_other(RedisNotifier(settings), RedisNotifier(settings))


@pytest.mark.nats
async def test_a_commit_notice_through_nats_wakes_the_feeds_of_another_replica(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, event_bus_url=NATS_URL, event_bus_prefix=f"t{secrets.token_hex(5)}")
    one, two = NatsConnection(NATS_URL), NatsConnection(NATS_URL)
    try:
        await _woken_by_the_other(NatsNotifier(settings, one), NatsNotifier(settings, two))
    finally:
        await one.close()
        await two.close()


@pytest.mark.nats
async def test_an_event_published_twice_to_jetstream_is_applied_once_by_each_consumer(
    database: Database, settings: Settings
) -> None:
    scaled = settings.model_copy(update={"event_bus_url": NATS_URL, "event_bus_prefix": f"t{secrets.token_hex(5)}"})
    tenant = uuid.uuid4()
    await subscribe(database, tenant, ["sample.received"])
    async with database.write_session() as session:
        stored = await record(
            session,
            DomainEvent(type="sample.received", aggregate_type="sample", aggregate_id=uuid.uuid4()),
            staff_actor(tenant),
        )
    connection = NatsConnection(NATS_URL)
    bus = NatsJetStreamBus(scaled, database, connection)
    stopping = asyncio.Event()
    consuming: asyncio.Task[None] | None = None
    try:
        await bus.start()
        await bus.publish(envelope(stored))
        await bus.publish(envelope(stored))  # the relay crashed before marking it sent
        consuming = asyncio.create_task(bus.consume(stopping))

        async def deliveries() -> int:
            async with database.read_session() as session:
                return int(await session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)

        assert await eventually(deliveries) == 1
        await asyncio.sleep(0.5)
        assert await deliveries() == 1
    finally:
        stopping.set()
        if consuming is not None:
            await asyncio.wait_for(consuming, timeout=10)
        client = await connection.get()
        with contextlib.suppress(Exception):
            await client.jetstream().delete_stream(stream_name(scaled))
        await connection.close()


async def test_an_api_whose_event_bus_is_down_still_serves_and_reports_not_ready(settings: Settings) -> None:
    import httpx
    from asgi_lifespan import LifespanManager

    from seqtrack.app import create_app
    from tests.fixtures.processes import free_port

    down = settings.model_copy(update={"event_bus_url": f"nats://127.0.0.1:{free_port()}"})
    app = create_app(down)
    async with LifespanManager(app, startup_timeout=20, shutdown_timeout=20) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get("/health")).status_code == 200
            ready = await client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["event_bus"] != "ok"
