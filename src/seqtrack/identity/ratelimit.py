"""Rate limits with the ``limits`` library: log-in attempts, and every authenticated request.

In memory by default; in Redis when ``SEQTRACK_REDIS_URL`` is set, so replicas
share the counts and they survive a restart.
"""

from __future__ import annotations

import math
import time
from typing import Literal

from limits import RateLimitItem, parse, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.storage import storage_from_string

from seqtrack.identity.repository import normalise_email
from seqtrack.platform.errors import TooManyRequests
from seqtrack.settings import Settings


def _storage(settings: Settings, key_prefix: str) -> Storage:
    if settings.redis_url is not None:
        uri = "async+" + settings.redis_url.get_secret_value()
        storage = storage_from_string(uri, implementation="redispy", key_prefix=f"{key_prefix}:limits")
    else:
        storage = storage_from_string("async+memory://")
    assert isinstance(storage, Storage)
    return storage


class LoginLimiter:
    def __init__(self, settings: Settings, *, key_prefix: str = "seqtrack") -> None:
        self._limiter = MovingWindowRateLimiter(_storage(settings, key_prefix))
        self._per_ip: RateLimitItem = parse(settings.login_rate_limit_per_ip)
        self._per_account: RateLimitItem = parse(settings.login_rate_limit_per_account)

    async def check(self, client_address: str, email: str) -> None:
        """Count one log-in attempt; raise 429 with Retry-After once either limit is spent."""
        for item, scope, key in (
            (self._per_ip, "login-ip", client_address),
            (self._per_account, "login-account", normalise_email(email)),
        ):
            if not await self._limiter.hit(item, scope, key):
                stats = await self._limiter.get_window_stats(item, scope, key)
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise TooManyRequests(
                    "Too many log-in attempts; wait before trying again.",
                    retry_after_seconds=retry_after,
                    limit=item.amount,
                )


RouteClass = Literal["reads", "writes", "exports"]
EXPORT_SUFFIXES = (".csv", ".xlsx", ".pdf", ".zip", ".png", ".svg")


def route_class(method: str, path: str) -> RouteClass:
    if path.endswith(EXPORT_SUFFIXES) or "/export" in path:
        return "exports"
    return "reads" if method in {"GET", "HEAD", "OPTIONS"} else "writes"


class RequestLimiter:
    """Requests per caller and route class; a fixed window keeps the per-request cost to one counter."""

    def __init__(self, settings: Settings) -> None:
        # The event bus prefix keeps deployments (and test runs) sharing one Redis apart.
        self._limiter = FixedWindowRateLimiter(_storage(settings, settings.event_bus_prefix))
        self._limits: dict[RouteClass, list[RateLimitItem]] = {
            "reads": parse_many(settings.rate_limit_reads),
            "writes": parse_many(settings.rate_limit_writes),
            "exports": parse_many(settings.rate_limit_exports),
        }

    async def check(self, caller: str, method: str, path: str) -> None:
        """Count one request of ``caller`` (``api_key:…``, ``user:…`` or ``ip:…``); 429 once a limit is spent."""
        kind = route_class(method, path)
        for item in self._limits[kind]:
            if not await self._limiter.hit(item, "requests", kind, caller):
                stats = await self._limiter.get_window_stats(item, "requests", kind, caller)
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise TooManyRequests(
                    f"Too many {kind} for this caller ({item.amount} per {item.get_expiry()} s); "
                    f"wait {retry_after} s before trying again.",
                    retry_after_seconds=retry_after,
                    limit=item.amount,
                )
