"""The one write path of a sample change: state, version, event, audit entry and outbox row together.

Each change writes the new state, bumps the sample's version (its ETag), and
records one event with per-field old → new values, so the audit trail shows
the change and the event store can rebuild the sample at any past moment.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from seqtrack.events.recorder import DomainEvent, stage, to_json
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import after_commit
from seqtrack.platform.models import utcnow
from seqtrack.samples import metrics, repository, rules
from seqtrack.samples.configuration import dialect, remember_settings_version
from seqtrack.samples.errors import (
    DuplicateBarcode,
    SampleChanged,
    SampleClosed,
)
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.models import Sample, SampleCounter
from seqtrack.samples.repository import AGGREGATE

_PENDING_COUNTS = "seqtrack.samples.pending_counts"


# The sample's own facts: sample.created carries all of them, later events carry
# each changed one's new value, so folding the events rebuilds the row exactly.
SNAPSHOT_FIELDS = (
    "human_id",
    "barcode",
    "name",
    "lab_id",
    "project",
    "submitter_id",
    "submitter_name",
    "sample_type",
    "organism",
    "genome_size_bp",
    "concentration_ng_ul",
    "volume_ul",
    "buffer",
    "a260_280",
    "a260_230",
    "fragment_size_bp",
    "integrity_number",
    "flow_cell_type",
    "flow_cell_count",
    "library_kit",
    "barcoding_kit",
    "library_barcode",
    "basecalling_model",
    "priority",
    "due_date",
    "due_at",
    "billing_code",
    "assigned_to",
    "notes",
    "data_location",
    "status",
    "held_from",
    "status_reason",
    "received_at",
    "delivered_at",
)


# Once disposed, a tube no longer exists; its record stays, frozen.
FROZEN = (SampleStatus.DISPOSED,)


@dataclass(frozen=True)
class Change:
    """A change made to a sample in memory, with the event that will record it."""

    sample: Sample
    event: DomainEvent
    occurred_at: datetime


def describe_change(
    sample: Sample,
    event_type: str,
    *,
    changes: Mapping[str, tuple[Any, Any]],
    data: Mapping[str, Any] | None = None,
    reason: str | None = None,
    signature: dict[str, Any] | None = None,
) -> Change:
    """Bump the version and stamp the time on the sample, and describe the event; nothing is sent."""
    now = utcnow()
    sample.version += 1
    sample.updated_at = now
    if "status" in changes:
        sample.status_changed_at = now
    event = DomainEvent(
        type=event_type,
        aggregate_type=AGGREGATE,
        aggregate_id=sample.id,
        # Every sample event names its sample and lab: the live feed shows a
        # submitter only the events of their own labs.
        data={"human_id": sample.human_id, "lab_id": sample.lab_id, **(data or {})},
        changes=changes,
        reason=reason,
        signature=signature,
    )
    return Change(sample, event, now)


async def write_changes(session: AsyncSession, actor: Actor, changes: Sequence[Change]) -> None:
    """Each sample's one UPDATE under its optimistic lock, then their events in one batch.

    The UPDATEs go first so that a lost race is reported as the sample having
    changed (412), not as the event store refusing a second event of that version.
    """
    # Read before the flush: a failed flush expires the instances along with the transaction.
    names = {change.sample.id: change.sample.human_id for change in changes}
    try:
        # "UPDATE ... WHERE id = :id AND version = :read": a concurrent writer that
        # read the same version matches no row here and gets 412, never overwrites.
        await session.flush()
    except StaleDataError as exc:
        lone = next(iter(names)) if len(names) == 1 else None
        raise SampleChanged(
            f"{names[lone] if lone else 'A sample'} was changed by someone else meanwhile; read it again.",
            **({"sample_id": str(lone)} if lone else {}),
        ) from exc
    for change in changes:
        stage(session, change.event, actor, version=change.sample.version, occurred_at=change.occurred_at)
    await session.flush()


async def flush_new(session: AsyncSession, sample: Sample) -> None:
    barcode = sample.barcode
    try:
        await session.flush()
    except IntegrityError as exc:
        # Two creations racing for one barcode: the unique index decides.
        raise DuplicateBarcode(f"Barcode {barcode!r} is already on another sample.", field="barcode") from exc


async def next_number(session: AsyncSession, tenant_id: uuid.UUID, count: int = 1) -> int:
    """The tenant's next sample number (the last of ``count``), in one statement that also reads its settings version.

    The counter row's lock orders concurrent creations of a tenant.
    """
    insert = pg_insert if dialect(session) == "postgresql" else sqlite_insert
    claimed = (
        await session.execute(
            insert(SampleCounter)
            .values(tenant_id=tenant_id, last_number=count)
            .on_conflict_do_update(
                index_elements=["tenant_id"], set_={"last_number": SampleCounter.last_number + count}
            )
            .returning(SampleCounter.last_number, repository.settings_version(tenant_id))
        )
    ).one()
    remember_settings_version(session, tenant_id, claimed[1])
    return int(claimed[0])


def count_after_commit(
    session: AsyncSession, target: SampleStatus, source: SampleStatus | None, count: int = 1
) -> None:
    counts: dict[tuple[str | None, str], int] = session.info.setdefault(_PENDING_COUNTS, {})
    key = (source.value if source else None, target.value)
    counts[key] = counts.get(key, 0) + count

    async def publish() -> None:
        for (was, now), count in session.info.pop(_PENDING_COUNTS, {}).items():
            if was is None:
                metrics.SAMPLES_CREATED.inc(count)
            else:
                metrics.SAMPLE_TRANSITIONS.labels(source=was, target=now).inc(count)

    after_commit(session, "samples.metrics", publish)


def snapshot(sample: Sample) -> dict[str, Any]:
    return {name: to_json(getattr(sample, name)) for name in SNAPSHOT_FIELDS}


def search_text(sample: Sample) -> str:
    return rules.search_text(sample.human_id, sample.barcode, sample.name, sample.submitter_name, sample.organism)


def refuse_if_frozen(sample: Sample) -> None:
    if sample.status in FROZEN:
        raise SampleClosed(f"{sample.human_id} is {sample.status}; its record can no longer change.")
