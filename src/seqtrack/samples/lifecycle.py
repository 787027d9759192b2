"""The sample lifecycle as one declarative table (docs/api.md, "Lifecycle").

Every legal move is a row here; a move that is not a row is refused with the
list of moves that are. Guards are lab rules checked against the sample's
current facts just before the move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SampleStatus(StrEnum):
    SUBMITTED = "submitted"
    RECEIVED = "received"
    QC = "qc"
    LIBRARY_PREP = "library_prep"
    SEQUENCING = "sequencing"
    ANALYSIS = "analysis"
    DELIVERED = "delivered"
    ARCHIVED = "archived"
    ON_HOLD = "on_hold"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DISPOSED = "disposed"


S = SampleStatus

# The working states: a sample in one of these can be put on hold, failed or cancelled.
ACTIVE = (S.SUBMITTED, S.RECEIVED, S.QC, S.LIBRARY_PREP, S.SEQUENCING, S.ANALYSIS)
# Stopping or ending a sample's work must say why: the audit trail is read by people
# who were not at the bench (and samples are never deleted, only cancelled or disposed).
NEEDS_REASON = (S.ON_HOLD, S.FAILED, S.CANCELLED, S.DISPOSED)
# Still owed to the submitter: these count towards turnaround and can be overdue.
OPEN = (*ACTIVE, S.ON_HOLD)
_OPEN_VALUES = frozenset(state.value for state in OPEN)
# QC measures a tube the facility holds and still works on: not before it arrives, not after its work ended.
QC_STATES = (S.RECEIVED, S.QC, S.LIBRARY_PREP, S.SEQUENCING, S.ANALYSIS, S.ON_HOLD)


def is_overdue(status: str, due_at: datetime, now: datetime) -> bool:
    return status in _OPEN_VALUES and now > due_at


def turnaround_hours(
    created_at: datetime, received_at: datetime | None, delivered_at: datetime | None, now: datetime
) -> float:
    """Hours from receipt (or submission) to delivery, or to now while the sample is open."""
    start = received_at or created_at
    end = delivered_at or now
    return round((end - start).total_seconds() / 3600, 2)


@dataclass(frozen=True)
class Facts:
    """What the guards may look at; gathered by the service before a move."""

    held_from: SampleStatus | None
    qc_measured: bool
    qc_failing_kinds: tuple[str, ...]
    library_kit: str | None
    data_location: str | None


Guard = Callable[[Facts], str | None]


def passing_qc(facts: Facts) -> str | None:
    if not facts.qc_measured:
        return "no QC measurement is recorded"
    if facts.qc_failing_kinds:
        return "QC fails on " + ", ".join(facts.qc_failing_kinds)
    return None


def library_ready(facts: Facts) -> str | None:
    return passing_qc(facts) or (None if facts.library_kit else "no library kit is recorded")


def data_located(facts: Facts) -> str | None:
    return None if facts.data_location else "no data location is recorded"


@dataclass(frozen=True)
class Transition:
    source: SampleStatus
    target: SampleStatus
    guard: Guard | None = None


def _forward(source: SampleStatus, target: SampleStatus, guard: Guard | None = None) -> Transition:
    return Transition(source, target, guard)


TRANSITIONS: tuple[Transition, ...] = (
    _forward(S.SUBMITTED, S.RECEIVED),
    _forward(S.RECEIVED, S.QC),
    # Leaving QC for library prep is the QC release: the tube's quality must pass.
    _forward(S.QC, S.LIBRARY_PREP, passing_qc),
    # No flow cell is loaded without a passing QC and a prepared library.
    _forward(S.LIBRARY_PREP, S.SEQUENCING, library_ready),
    _forward(S.SEQUENCING, S.ANALYSIS),
    _forward(S.ANALYSIS, S.DELIVERED, data_located),
    _forward(S.DELIVERED, S.ARCHIVED),
    *(Transition(state, S.ON_HOLD) for state in ACTIVE),
    # A hold returns the sample to the state it was held in (checked in allowed_targets).
    *(Transition(S.ON_HOLD, state) for state in ACTIVE),
    *(Transition(state, S.FAILED) for state in (*ACTIVE, S.ON_HOLD)),
    *(Transition(state, S.CANCELLED) for state in (*ACTIVE, S.ON_HOLD)),
    # Disposal ends the tube's physical life once nothing more will be done with it.
    *(Transition(state, S.DISPOSED) for state in (S.DELIVERED, S.ARCHIVED, S.FAILED, S.CANCELLED)),
)

_BY_PAIR = {(t.source, t.target): t for t in TRANSITIONS}


def allowed_targets(status: SampleStatus, held_from: SampleStatus | None = None) -> list[SampleStatus]:
    targets = [t.target for t in TRANSITIONS if t.source is status]
    if status is S.ON_HOLD:
        targets = [target for target in targets if target not in ACTIVE or target is held_from]
    return targets


def find(status: SampleStatus, target: SampleStatus, held_from: SampleStatus | None = None) -> Transition | None:
    if target not in allowed_targets(status, held_from):
        return None
    return _BY_PAIR.get((status, target))


def transition_name(source: SampleStatus, target: SampleStatus) -> str:
    return f"{source.value}->{target.value}"
