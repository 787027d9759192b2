"""The main navigation: each domain's pages add their entry here."""

from __future__ import annotations

from dataclasses import dataclass

from seqtrack.identity.actor import Actor
from seqtrack.identity.permissions import Permission
from seqtrack.intake.events import SubmissionEvent
from seqtrack.samples.events import SampleEvent
from seqtrack.sequencing.events import SequencingEvent
from seqtrack.storage.events import CUSTODY_EVENTS


@dataclass(frozen=True)
class NavEntry:
    label: str
    path: str
    permission: Permission
    # Shown also to whoever holds any of these (a page gathering several sections).
    any_of: tuple[Permission, ...] = ()

    def shown_to(self, actor: Actor) -> bool:
        return actor.can(self.permission) or any(actor.can(permission) for permission in self.any_of)


NAV: tuple[NavEntry, ...] = (
    NavEntry("Dashboard", "/", Permission.SAMPLES_READ),
    NavEntry("Samples", "/samples", Permission.SAMPLES_READ),
    NavEntry("Submissions", "/submissions", Permission.INTAKE_SUBMIT),
    NavEntry("Sequencing", "/sequencing/runs", Permission.SEQUENCING_READ),
    NavEntry("Storage", "/storage", Permission.STORAGE_READ),
    NavEntry(
        "Admin",
        "/admin",
        Permission.USERS_READ,
        any_of=(
            Permission.APIKEYS_MANAGE,
            Permission.WEBHOOKS_MANAGE,
            Permission.JOBS_READ,
            Permission.SAMPLES_CONFIGURE,
        ),
    ),
)


def entries_for(actor: Actor) -> list[NavEntry]:
    return [entry for entry in NAV if entry.shown_to(actor)]


# The live-feed event types pages listen for (a browser must name each type it wants).
LIVE_EVENT_TYPES: tuple[str, ...] = (
    *(event.value for event in SampleEvent),
    *(event.value for event in SequencingEvent),
    *(event.value for event in CUSTODY_EVENTS),
    *(event.value for event in SubmissionEvent if event is not SubmissionEvent.SETTINGS_UPDATED),
)
