"""The outbox relay: committed events leave in order, at least once, and consumers apply them once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from seqtrack.events import consumers
from seqtrack.events import relay as relay_module
from seqtrack.events.bus import InProcessBus, Notifier
from seqtrack.events.models import OutboxMessage, ProcessedEvent
from seqtrack.events.recorder import DomainEvent, record
from seqtrack.events.relay import Relay
from seqtrack.integrations import webhooks
from seqtrack.integrations.models import WebhookDelivery
from seqtrack.platform.database import Database
from seqtrack.settings import Settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.webhooks import subscribe
from tests.jobs.support import eventually


class CrashAfterPublishing:
    """The real bus, with the process "dying" right after the first publish returns."""

    def __init__(self, bus: InProcessBus) -> None:
        self.bus = bus
        self.published: list[str] = []

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def check(self) -> None: ...

    async def consume(self, stopping: Any) -> None: ...

    async def publish(self, envelope: dict[str, Any]) -> None:
        await self.bus.publish(envelope)
        self.published.append(str(envelope["id"]))
        raise SystemExit("relay killed between publish and mark-sent")


async def _received(database: Database, tenant: uuid.UUID, tube: uuid.UUID, version: int) -> None:
    async with database.write_session() as session:
        await record(
            session,
            DomainEvent(type="sample.received", aggregate_type="sample", aggregate_id=tube, data={"bench": "B1"}),
            staff_actor(tenant),
            version=version,
        )


async def _count(database: Database, model: type, *where: Any) -> int:
    async with database.read_session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_the_relay_publishes_committed_events_in_order_and_marks_them_sent(
    database: Database, settings: Settings
) -> None:
    seen: list[tuple[str, int]] = []

    class Recording(InProcessBus):
        async def publish(self, envelope: dict[str, Any]) -> None:
            seen.append((envelope["aggregate_id"], envelope["version"]))

    tenant, tube = uuid.uuid4(), uuid.uuid4()
    for version in (1, 2, 3):
        await _received(database, tenant, tube, version)
    relay = Relay(settings, database, Recording(database), Notifier())
    assert await relay.publish_pending() == 3
    assert [version for _, version in seen] == [1, 2, 3]
    assert await _count(database, OutboxMessage, OutboxMessage.published_at.is_(None)) == 0
    assert await relay.publish_pending() == 0
    assert await relay.measure_lag() == 0.0


async def test_a_relay_killed_between_publish_and_mark_sent_delivers_again_and_the_consumer_applies_once(
    database: Database, settings: Settings
) -> None:
    tenant = uuid.uuid4()
    await subscribe(database, tenant, ["sample.received"])
    await _received(database, tenant, uuid.uuid4(), 1)
    assert any(target.name == "webhooks" for target in consumers.registered())
    assert callable(webhooks.fan_out)

    crashing = CrashAfterPublishing(InProcessBus(database))
    with pytest.raises(SystemExit):
        await Relay(settings, database, crashing, Notifier()).publish_pending()
    assert len(crashing.published) == 1
    # Nothing was marked sent: the event is still pending in the outbox.
    assert await _count(database, OutboxMessage, OutboxMessage.published_at.is_(None)) == 1

    restarted = Relay(settings, database, InProcessBus(database), Notifier())
    assert await restarted.publish_pending() == 1
    assert await _count(database, OutboxMessage, OutboxMessage.published_at.is_(None)) == 0
    # Delivered twice, applied once: one delivery for the endpoint, one processed-event record.
    assert await _count(database, WebhookDelivery) == 1
    assert await _count(database, ProcessedEvent, ProcessedEvent.consumer == "webhooks") == 1


async def test_a_failing_consumer_leaves_the_event_in_the_outbox_for_the_next_round(
    database: Database, settings: Settings
) -> None:
    class Broken(InProcessBus):
        async def publish(self, envelope: dict[str, Any]) -> None:
            raise ConnectionError("bus unreachable")

    await _received(database, uuid.uuid4(), uuid.uuid4(), 1)
    assert await Relay(settings, database, Broken(database), Notifier()).publish_pending() == 0
    async with database.read_session() as session:
        row = await session.scalar(select(OutboxMessage))
    assert row is not None
    assert row.published_at is None
    assert row.attempts == 1
    assert "bus unreachable" in (row.last_error or "")


@pytest.mark.postgres
async def test_two_relays_on_postgresql_publish_each_event_once_and_in_order(postgres_url: str, tmp_path: Any) -> None:
    from tests.fixtures.database import empty_all_tables, make_settings

    await empty_all_tables(postgres_url)
    settings = make_settings(tmp_path, postgres_url, relay_batch_size=5)
    database = Database(settings)
    published: list[tuple[str, int]] = []

    class Slow(InProcessBus):
        async def publish(self, envelope: dict[str, Any]) -> None:
            await asyncio.sleep(0.01)  # long enough for the other relay to try the same rows
            published.append((envelope["aggregate_id"], envelope["version"]))

    try:
        tenant, tube = uuid.uuid4(), uuid.uuid4()
        for version in range(1, 21):
            await _received(database, tenant, tube, version)
        relays = [Relay(settings, database, Slow(database), Notifier()) for _ in range(2)]
        while await _count(database, OutboxMessage, OutboxMessage.published_at.is_(None)):
            await asyncio.gather(*(relay.publish_pending() for relay in relays))
    finally:
        await database.dispose()
    assert [version for _, version in published] == list(range(1, 21))


async def test_an_idle_relay_publishes_an_event_committed_here_without_waiting_out_its_poll_interval(
    database: Database, settings: Settings
) -> None:
    # Polling alone would look again only after 30 s: the commit itself must wake the relay.
    sleepy = settings.model_copy(update={"relay_poll_interval_seconds": 30.0})
    published: list[str] = []
    rounds = asyncio.Event()

    class Recording(InProcessBus):
        async def publish(self, envelope: dict[str, Any]) -> None:
            published.append(envelope["id"])

    class Counting(Relay):
        async def publish_pending(self) -> int:
            count = await super().publish_pending()
            rounds.set()
            return count

    relay = Counting(sleepy, database, Recording(database), Notifier())
    stopping = asyncio.Event()
    running = asyncio.create_task(relay.run(stopping))
    try:
        await asyncio.wait_for(rounds.wait(), timeout=10)
        assert published == []
        await _received(database, uuid.uuid4(), uuid.uuid4(), 1)
        await eventually(lambda: _count_published(database), within=10)
        assert len(published) == 1
    finally:
        stopping.set()
        relay_module.OUTBOX_WRITTEN.ring()  # wakes the idle relay to see it should stop
        await asyncio.wait_for(running, timeout=10)


async def _count_published(database: Database) -> int:
    return await _count(database, OutboxMessage, OutboxMessage.published_at.is_not(None))
