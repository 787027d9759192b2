"""The events the samples domain emits: the one catalogue webhooks and e-mail subscribe from."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SampleEvent(StrEnum):
    CREATED = "sample.created"
    UPDATED = "sample.updated"
    # data: from, to, reason, human_id (and the signature when the move is signed)
    STATUS_CHANGED = "sample.status_changed"
    QC_RECORDED = "sample.qc_recorded"
    STEP_UPDATED = "sample.step_updated"


SETTINGS_UPDATED = "sample_settings.updated"


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    description: str
    # Whether people may hear of it by e-mail; facility configuration goes to webhooks and the audit trail only.
    by_email: bool


CATALOGUE: tuple[EventType, ...] = (
    EventType(SampleEvent.CREATED, "A sample was registered (it starts as submitted).", by_email=True),
    EventType(SampleEvent.UPDATED, "A sample's details changed (old and new values in data.changes).", by_email=True),
    EventType(
        SampleEvent.STATUS_CHANGED,
        "A sample moved through its lifecycle (data.from, data.to, data.reason).",
        by_email=True,
    ),
    EventType(SampleEvent.QC_RECORDED, "A QC measurement was recorded with its verdict.", by_email=True),
    EventType(SampleEvent.STEP_UPDATED, "A processing step started, finished or was skipped.", by_email=True),
    EventType(SETTINGS_UPDATED, "The facility's sample workflow settings changed.", by_email=False),
)
EVENT_TYPE_NAMES = frozenset(event.name for event in CATALOGUE)
