"""Outbox relay metrics for /metrics (the relay runs in the worker, so the worker's /metrics shows them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

RELAY_LAG = Gauge(
    "seqtrack_event_relay_lag_seconds", "Age of the oldest committed outbox row not yet published (0 when none)."
)
RELAY_PUBLISHED = Counter("seqtrack_events_relayed_total", "Outbox rows published to the event bus.")
