"""The main navigation: each domain's pages add their entry here."""

from __future__ import annotations

from dataclasses import dataclass

from seqtrack.identity.actor import Actor
from seqtrack.identity.permissions import Permission
from seqtrack.samples.events import SampleEvent
from seqtrack.sequencing.events import SequencingEvent


@dataclass(frozen=True)
class NavEntry:
    label: str
    path: str
    permission: Permission


NAV: tuple[NavEntry, ...] = (
    NavEntry("Dashboard", "/", Permission.SAMPLES_READ),
    NavEntry("Samples", "/samples", Permission.SAMPLES_READ),
    NavEntry("Sequencing", "/sequencing/runs", Permission.SEQUENCING_READ),
)


def entries_for(actor: Actor) -> list[NavEntry]:
    return [entry for entry in NAV if actor.can(entry.permission)]


# The live-feed event types pages listen for (a browser must name each type it wants).
LIVE_EVENT_TYPES: tuple[str, ...] = tuple(event.value for event in SampleEvent) + tuple(
    event.value for event in SequencingEvent
)
