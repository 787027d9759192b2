"""A circuit breaker whose state lives on the endpoint's row, so every worker shares it.

Closed: calls go through. After ``threshold`` failures in a row it opens and
calls wait ``cooldown`` seconds; then one call may try (half-open): success
closes it, failure opens it again for another cooldown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class Breaker:
    threshold: int
    cooldown_seconds: float

    def state(self, failures: int, opened_at: datetime | None, now: datetime) -> BreakerState:
        if failures < self.threshold or opened_at is None:
            return BreakerState.CLOSED
        if now >= opened_at + timedelta(seconds=self.cooldown_seconds):
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def seconds_until_retry(self, opened_at: datetime | None, now: datetime) -> float:
        if opened_at is None:
            return 0.0
        return max((opened_at + timedelta(seconds=self.cooldown_seconds) - now).total_seconds(), 0.0)
