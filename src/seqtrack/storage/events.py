"""The events the storage domain emits; consumers (e-mail, webhooks) subscribe by these names."""

from __future__ import annotations

from enum import StrEnum


class StorageEvent(StrEnum):
    UNIT_CREATED = "storage.unit_created"
    CONTAINER_CREATED = "storage.container_created"
    # Custody events of one sample (aggregate "sample_custody", id = the sample's):
    # data: sample_id, human_id, from, to (each a location or null)
    PLACED = "storage.placed"
    MOVED = "storage.moved"
    REMOVED = "storage.removed"
    DISPOSED = "storage.disposed"
    CHECKED_OUT = "storage.checked_out"
    CHECKED_IN = "storage.checked_in"
    RESERVED = "storage.reserved"
    RESERVATION_RELEASED = "storage.reservation_released"
    # data: zone, used, capacity, ratio, threshold
    CAPACITY_WARNING = "storage.capacity_warning"
    CAPACITY_CRITICAL = "storage.capacity_critical"
    SETTINGS_UPDATED = "storage_settings.updated"


CUSTODY_EVENTS = (
    StorageEvent.PLACED,
    StorageEvent.MOVED,
    StorageEvent.REMOVED,
    StorageEvent.DISPOSED,
    StorageEvent.CHECKED_OUT,
    StorageEvent.CHECKED_IN,
)

UNIT_AGGREGATE = "storage_unit"
CONTAINER_AGGREGATE = "storage_container"
CUSTODY_AGGREGATE = "sample_custody"
RESERVATION_AGGREGATE = "storage_reservation"
ZONE_AGGREGATE = "storage_zone"
SETTINGS_AGGREGATE = "storage_settings"
