"""Where published events go, and how every replica hears that new ones were committed.

Two roles, each with an embedded and a scaled-out form chosen by configuration:

* the **bus** carries events to consumers, durably: in-process (the consumers run
  inside ``publish``, so a failure leaves the outbox row for the next try) or
  NATS JetStream (one stream, a subject per tenant and event type, de-duplicated
  by event id; each consumer is a durable pull consumer in the worker);
* the **notifier** only says "tenant T has new events" so live feeds re-read the
  event store: in-process, Redis pub/sub, or core NATS. A lost notification
  costs a feed one poll interval, never an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any, Protocol

import structlog

from seqtrack.events import consumers
from seqtrack.platform.database import Database
from seqtrack.settings import Settings

log = structlog.get_logger("seqtrack.bus")

Envelope = dict[str, Any]
# How long one JetStream pull waits for messages before an idle consumer asks again.
FETCH_WINDOW_SECONDS = 5.0


class EventBus(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, envelope: Envelope) -> None: ...
    async def check(self) -> None: ...
    async def consume(self, stopping: asyncio.Event) -> None:
        """Feed published events to this process's consumers until ``stopping`` is set."""


class InProcessBus:
    """Embedded default: publishing applies the event to every consumer, right here."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, envelope: Envelope) -> None:
        await consumers.apply_to_all(self.database, envelope)

    async def check(self) -> None:
        return None

    async def consume(self, stopping: asyncio.Event) -> None:
        await stopping.wait()


def stream_name(settings: Settings) -> str:
    return f"{settings.event_bus_prefix}_events".upper().replace("-", "_")


def event_subject(settings: Settings, envelope: Envelope) -> str:
    return f"{settings.event_bus_prefix}.events.{envelope['tenant_id']}.{envelope['type']}"


class NatsConnection:
    """One NATS connection per process, shared by the bus and the notifier."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client: Any = None
        self._lock = asyncio.Lock()

    async def get(self) -> Any:
        async with self._lock:
            if self.client is None or self.client.is_closed:
                import nats

                # Once connected the client reconnects forever, but nats-py would also retry
                # a first connection forever inside connect(): probe the servers first.
                await _probe_any(self.url)
                self.client = await nats.connect(
                    self.url, connect_timeout=2, max_reconnect_attempts=-1, allow_reconnect=True
                )
            return self.client

    async def close(self) -> None:
        if self.client is not None and not self.client.is_closed:
            # close, not drain: draining waits out open pull requests, up to 30 s.
            await self.client.close()
        self.client = None


async def _probe_any(url: str) -> None:
    from urllib.parse import urlsplit

    for server in url.split(","):
        parts = urlsplit(server.strip() if "://" in server else f"nats://{server.strip()}")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 4222), timeout=2
            )
        except (OSError, TimeoutError):
            continue
        writer.close()
        return
    raise ConnectionError(f"no NATS server answers at {url}")


class NatsJetStreamBus:
    def __init__(self, settings: Settings, database: Database, connection: NatsConnection) -> None:
        self.settings = settings
        self.database = database
        self.connection = connection
        self.stream = stream_name(settings)

    async def start(self) -> None:
        from nats.js.api import StreamConfig
        from nats.js.errors import NotFoundError

        client = await self.connection.get()
        js = client.jetstream()
        subjects = [f"{self.settings.event_bus_prefix}.events.>"]
        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            # Two minutes of de-duplication window covers a relay re-publishing after a crash.
            await js.add_stream(
                StreamConfig(name=self.stream, subjects=subjects, duplicate_window=120.0, max_age=7 * 24 * 3600.0)
            )

    async def close(self) -> None:
        return None

    async def publish(self, envelope: Envelope) -> None:
        client = await self.connection.get()
        await client.jetstream().publish(
            event_subject(self.settings, envelope),
            json.dumps(envelope, separators=(",", ":")).encode(),
            timeout=5,
            # JetStream drops a second publish of the same id within the window.
            headers={"Nats-Msg-Id": str(envelope["id"])},
        )

    async def check(self) -> None:
        client = await self.connection.get()
        await client.jetstream().stream_info(self.stream)

    async def consume(self, stopping: asyncio.Event) -> None:
        loops = [asyncio.create_task(self._consume_with(target, stopping)) for target in consumers.registered()]
        try:
            await stopping.wait()
        finally:
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)

    async def _consume_with(self, target: consumers.Consumer, stopping: asyncio.Event) -> None:
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js.api import ConsumerConfig

        durable = f"{self.stream}_{target.name}".replace(".", "_").replace("-", "_")
        while not stopping.is_set():
            try:
                client = await self.connection.get()
                subscription = await client.jetstream().pull_subscribe(
                    f"{self.settings.event_bus_prefix}.events.>",
                    durable=durable,
                    stream=self.stream,
                    config=ConsumerConfig(ack_wait=60.0, max_deliver=-1),
                )
                while not stopping.is_set():
                    try:
                        # A long poll: a message ends it at once, so a longer window costs no latency.
                        messages = await subscription.fetch(batch=50, timeout=FETCH_WINDOW_SECONDS)
                    except (NatsTimeout, TimeoutError):
                        # Nothing new within the fetch window (nats-py raises either kind).
                        continue
                    for message in messages:
                        envelope = json.loads(message.data)
                        try:
                            await consumers.apply_once(self.database, target, envelope)
                        except Exception:
                            log.exception("consumer failed; event will be redelivered", consumer=target.name)
                            await message.nak(delay=5.0)
                            continue
                        await message.ack()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("NATS consumer interrupted; reconnecting", consumer=target.name, exc_info=True)
                await asyncio.sleep(1.0)


class Notifier:
    """Wakes this process's live feeds; subclasses carry the wake-up to other replicas."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def check(self) -> None:
        return None

    async def notify(self, tenant_id: uuid.UUID | str) -> None:
        self.wake_local()

    def wake_local(self) -> None:
        for waiter in list(self._waiters):
            waiter.set()

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Event]:
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            yield waiter
        finally:
            self._waiters.discard(waiter)


class RedisNotifier(Notifier):
    def __init__(self, settings: Settings) -> None:
        super().__init__()
        assert settings.redis_url is not None
        self.url = settings.redis_url.get_secret_value()
        self.channel = f"{settings.event_bus_prefix}:events:committed"
        self._client: Any = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from redis.asyncio import Redis

        self._client = Redis.from_url(self.url, socket_connect_timeout=3)
        self._listener = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            try:
                pubsub = self._client.pubsub()
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.wake_local()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("Redis notification listener interrupted; reconnecting", exc_info=True)
                await asyncio.sleep(1.0)

    async def notify(self, tenant_id: uuid.UUID | str) -> None:
        await self._client.publish(self.channel, str(tenant_id))

    async def check(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()


class NatsNotifier(Notifier):
    def __init__(self, settings: Settings, connection: NatsConnection) -> None:
        super().__init__()
        self.connection = connection
        self.subject = f"{settings.event_bus_prefix}.committed"
        self._subscription: Any = None

    async def start(self) -> None:
        client = await self.connection.get()

        async def on_message(_message: Any) -> None:
            self.wake_local()

        self._subscription = await client.subscribe(self.subject, cb=on_message)

    async def notify(self, tenant_id: uuid.UUID | str) -> None:
        client = await self.connection.get()
        await client.publish(self.subject, str(tenant_id).encode())

    async def check(self) -> None:
        client = await self.connection.get()
        await client.flush(timeout=2)

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()


class EventTransport:
    """The bus and notifier this process uses, started and closed together."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self._retry: asyncio.Task[None] | None = None
        self.connection: NatsConnection | None = None
        self.bus: EventBus
        self.notifier: Notifier
        if settings.event_bus_url:
            self.connection = NatsConnection(settings.event_bus_url)
            self.bus = NatsJetStreamBus(settings, database, self.connection)
            self.notifier = NatsNotifier(settings, self.connection)
        else:
            self.bus = InProcessBus(database)
            self.notifier = RedisNotifier(settings) if settings.redis_url is not None else Notifier()

    async def start(self) -> None:
        """Connect now if the servers answer; otherwise keep trying in the background.

        A bus that is down must not stop the API from serving: ``/ready`` reports
        it, feeds fall back to polling the event store, and the outbox holds events.
        """
        try:
            await self._connect()
        except Exception:
            log.warning("event bus unavailable at start; retrying in the background", exc_info=True)
            self._retry = asyncio.create_task(self._connect_until_up())

    async def _connect(self) -> None:
        await self.bus.start()
        await self.notifier.start()

    async def _connect_until_up(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            try:
                await self._connect()
            except Exception:
                log.warning("event bus still unavailable", exc_info=False)
                continue
            log.info("event bus connected")
            return

    async def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            await asyncio.gather(self._retry, return_exceptions=True)
        await self.notifier.close()
        await self.bus.close()
        if self.connection is not None:
            await self.connection.close()

    async def check(self) -> None:
        await self.bus.check()
        await self.notifier.check()
