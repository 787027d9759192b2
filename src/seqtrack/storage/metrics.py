"""Storage occupancy in /metrics, counted from the database at each scrape.

Gauges set from a count at scrape time, not incremented per placement: a value
kept in one process would drift from what other replicas and workers wrote.
"""

from __future__ import annotations

from prometheus_client import Gauge

from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.storage import repository

POSITIONS = Gauge(
    "seqtrack_storage_positions",
    "Grid positions per tenant and temperature zone: capacity, used (occupied, checked out or reserved).",
    ["tenant", "zone", "use"],
)
UTILISATION = Gauge(
    "seqtrack_storage_utilisation_ratio",
    "Used positions / capacity per tenant and temperature zone.",
    ["tenant", "zone"],
)


async def refresh(database: Database) -> None:
    async with database.read_session() as session:
        capacity = {(str(row[0]), row[1]): int(row[2] or 0) for row in await repository.zone_capacity(session, None)}
        used = {(str(row[0]), row[1]): int(row[2]) for row in await repository.zone_usage(session, None, utcnow())}
    POSITIONS.clear()
    UTILISATION.clear()
    for key in capacity.keys() | used.keys():
        tenant, zone = key
        total, held = capacity.get(key, 0), used.get(key, 0)
        POSITIONS.labels(tenant=tenant, zone=zone, use="capacity").set(total)
        POSITIONS.labels(tenant=tenant, zone=zone, use="used").set(held)
        UTILISATION.labels(tenant=tenant, zone=zone).set(held / total if total else 0.0)
