"""Resolved callers kept for a moment, and how an account change reaches every api process.

Resolving a credential costs a database round trip; a busy client sends the same
token many times a second. Each process keeps the resolved :class:`Actor` for a
short while, keyed by a digest of the credential (never the credential itself).

An entry is dropped as soon as its account's security version moves on (see
``users.security_version``): the process that commits the change drops it at
once, and with Redis every other api process hears of it on a channel and drops
it too. Without Redis an entry lives at most one second, so a second process on
the same SQLite file sees a change within that second. With Redis the cache is
trusted only while the subscription is known to be alive; otherwise every
request resolves from the database (fail closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import uuid
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from seqtrack.platform.actor import Actor
from seqtrack.platform.models import utcnow
from seqtrack.settings import Settings

log = structlog.get_logger("seqtrack.identity.callers")

# Without a channel to hear changes on, a second process must notice them within a second.
UNANNOUNCED_LIFETIME_SECONDS = 1.0
MAX_ENTRIES = 10_000
# The listener pings Redis this often when the channel is quiet, and the cache stops
# trusting itself when it has heard nothing (no message, no pong) for TRUST_SECONDS.
PING_SECONDS = 1.0
TRUST_SECONDS = 3.0
# An announcement runs right after commit, on SQLite still inside this process's writer turn:
# a Redis that does not answer may hold that turn this long at most.
PUBLISH_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class CachedCaller:
    actor: Actor
    account_id: uuid.UUID
    security_version: int
    fresh_until: float


def channel_name(settings: Settings) -> str:
    return f"{settings.event_bus_prefix}:identity:security-versions"


class CallerCache:
    """The callers this process resolved recently, keyed by credential digest."""

    def __init__(self, settings: Settings) -> None:
        self.announced = settings.redis_url is not None
        lifetime = settings.auth_cache_seconds
        self.lifetime = lifetime if self.announced else min(lifetime, UNANNOUNCED_LIFETIME_SECONDS)
        # Without Redis, local invalidation plus the short lifetime is all there is: always trusted.
        self.trusted_until = 0.0 if self.announced else math.inf
        self._entries: dict[str, CachedCaller] = {}
        # The newest security version announced per account: a resolution that read an older
        # one (it raced the change) must not be cached after the change was announced.
        self._floor: dict[uuid.UUID, int] = {}
        # The Redis client of this cache's listener, reused to announce this process's changes.
        self.publisher: Any = None
        # Open live-feed streams waiting to hear that their account changed.
        self._watchers: dict[uuid.UUID, set[asyncio.Event]] = {}

    @property
    def enabled(self) -> bool:
        return self.lifetime > 0

    def get(self, key: str) -> CachedCaller | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = time.monotonic()
        if now >= entry.fresh_until or now >= self.trusted_until:
            self._entries.pop(key, None)
            return None
        return entry

    def put(
        self, key: str, actor: Actor, *, account_id: uuid.UUID, security_version: int, expires_at: datetime | None
    ) -> None:
        now = time.monotonic()
        if not self.enabled or now >= self.trusted_until:
            return
        if security_version < self._floor.get(account_id, -1):
            return
        fresh_until = now + self.lifetime
        if expires_at is not None:
            # Never past the credential's own expiry.
            fresh_until = min(fresh_until, now + (expires_at - utcnow()).total_seconds())
        if fresh_until <= now:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._evict(now)
        self._entries[key] = CachedCaller(actor, account_id, security_version, fresh_until)

    def forget(self, versions: Mapping[uuid.UUID, int]) -> None:
        """Drop every caller of these accounts; they changed to these security versions."""
        for account_id, version in versions.items():
            if version > self._floor.get(account_id, -1):
                self._floor[account_id] = version
        stale = [key for key, entry in self._entries.items() if entry.account_id in versions]
        for key in stale:
            self._entries.pop(key, None)
        for account_id in versions:
            for changed in self._watchers.get(account_id, ()):
                changed.set()

    @contextlib.contextmanager
    def watch(self, account_id: uuid.UUID) -> Iterator[asyncio.Event]:
        """An event set whenever ``account_id`` changes (log-out, revocation, disabling), here or elsewhere."""
        changed = asyncio.Event()
        self._watchers.setdefault(account_id, set()).add(changed)
        try:
            yield changed
        finally:
            watchers = self._watchers.get(account_id, set())
            watchers.discard(changed)
            if not watchers:
                self._watchers.pop(account_id, None)

    def clear(self) -> None:
        self._entries.clear()

    def trust_for(self, seconds: float) -> None:
        self.trusted_until = time.monotonic() + seconds

    def distrust(self) -> None:
        self.trusted_until = 0.0
        self._entries.clear()

    def _evict(self, now: float) -> None:
        for key in [key for key, entry in self._entries.items() if entry.fresh_until <= now]:
            del self._entries[key]
        while len(self._entries) >= MAX_ENTRIES:
            del self._entries[next(iter(self._entries))]


# The caches of this process, by database: a change committed through any Database object
# (a test's, the CLI's) reaches every cache over the same database in this process.
_caches: dict[str, weakref.WeakSet[CallerCache]] = {}


def register(settings: Settings, cache: CallerCache) -> None:
    _caches.setdefault(settings.database_dsn, weakref.WeakSet()).add(cache)


def unregister(settings: Settings, cache: CallerCache) -> None:
    _caches.get(settings.database_dsn, weakref.WeakSet()).discard(cache)


def encode(versions: Mapping[uuid.UUID, int]) -> str:
    return json.dumps({str(account): version for account, version in versions.items()})


def decode(payload: bytes | str) -> dict[uuid.UUID, int]:
    return {uuid.UUID(account): int(version) for account, version in json.loads(payload).items()}


async def announce(settings: Settings, versions: Mapping[uuid.UUID, int]) -> None:
    """Tell every api process that these accounts changed; called once the change committed."""
    if not versions:
        return
    local = list(_caches.get(settings.database_dsn, ()))
    for cache in local:
        cache.forget(versions)
    if settings.redis_url is None:
        return
    publisher = next((cache.publisher for cache in local if cache.publisher is not None), None)
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
            if publisher is not None:
                await publisher.publish(channel_name(settings), encode(versions))
            else:
                await _publish_once(settings, versions)
    except Exception:
        # The change is committed; only other processes' caches may lag. Their listeners
        # lose Redis too and stop trusting their caches, which bounds the lag.
        log.error("could not announce an account change on Redis", exc_info=True)


async def _publish_once(settings: Settings, versions: Mapping[uuid.UUID, int]) -> None:
    from redis.asyncio import Redis

    assert settings.redis_url is not None
    client = Redis.from_url(settings.redis_url.get_secret_value(), socket_connect_timeout=2)
    try:
        await client.publish(channel_name(settings), encode(versions))
    finally:
        await client.aclose()


class ChangeListener:
    """Subscribes to account changes on Redis and keeps ``cache`` honest."""

    def __init__(self, settings: Settings, cache: CallerCache) -> None:
        assert settings.redis_url is not None
        self.url = settings.redis_url.get_secret_value()
        self.channel = channel_name(settings)
        self.cache = cache
        self.client: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from redis.asyncio import Redis

        self.client = Redis.from_url(self.url, socket_connect_timeout=2)
        self.cache.publisher = self.client
        self._task = asyncio.create_task(self._listen_forever(), name="identity-change-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.cache.distrust()
        self.cache.publisher = None
        if self.client is not None:
            await self.client.aclose()

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("account change listener lost Redis; resolving callers from the database", exc_info=True)
            self.cache.distrust()
            await asyncio.sleep(PING_SECONDS)

    async def _listen(self) -> None:
        pubsub = self.client.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            # Changes announced while we were not subscribed are lost: start empty.
            self.cache.clear()
            self.cache.trust_for(TRUST_SECONDS)
            pinged = time.monotonic()
            while True:
                message = await pubsub.get_message(timeout=PING_SECONDS)
                if message is not None:
                    self.cache.trust_for(TRUST_SECONDS)
                    if message.get("type") == "message":
                        self._apply(message.get("data"))
                now = time.monotonic()
                if now - pinged >= PING_SECONDS:
                    # The pong comes back as a message: a quiet channel still proves the line alive.
                    await pubsub.ping()
                    pinged = now
                if now >= self.cache.trusted_until:
                    raise ConnectionError("no word from Redis within the trust window")
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    def _apply(self, payload: Any) -> None:
        try:
            versions = decode(payload)
        except (ValueError, TypeError, AttributeError):
            log.warning("ignored a malformed account change message")
            return
        self.cache.forget(versions)
