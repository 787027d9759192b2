"""Log-in rate limits, per client address and per account, with the ``limits`` library.

In memory by default; in Redis when ``SEQTRACK_REDIS_URL`` is set, so replicas
share the counts and they survive a restart.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from seqtrack.identity.repository import normalise_email
from seqtrack.platform.errors import TooManyRequests
from seqtrack.settings import Settings


class LoginLimiter:
    def __init__(self, settings: Settings, *, key_prefix: str = "seqtrack") -> None:
        if settings.redis_url is not None:
            uri = "async+" + settings.redis_url.get_secret_value()
            storage = storage_from_string(uri, implementation="redispy", key_prefix=f"{key_prefix}:limits")
        else:
            storage = storage_from_string("async+memory://")
        self._limiter = MovingWindowRateLimiter(storage)
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
