"""Reading samples: one for a change, its history and its state at a past time, lookups for other domains."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events import history
from seqtrack.events.history import PastEvent
from seqtrack.platform.actor import Actor
from seqtrack.samples import repository
from seqtrack.samples.configuration import remember_settings_version
from seqtrack.samples.errors import (
    SampleNotFound,
)
from seqtrack.samples.models import ProcessingStep, QcMeasurement, Sample
from seqtrack.samples.repository import AGGREGATE
from seqtrack.samples.schemas import (
    SampleOut,
)
from seqtrack.samples.writing import SNAPSHOT_FIELDS


async def get_sample(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> Sample:
    """A visible sample to change, loaded once per unit of work with the tenant's settings version."""
    found = await repository.get(session, actor, sample_id)
    if found is not None and found.settings_version_read:
        remember_settings_version(session, actor.tenant_id, found.settings_version)
    sample = found.sample if found is not None else None
    if sample is None:
        raise SampleNotFound(f"No sample {sample_id} here.", sample_id=str(sample_id))
    return sample


async def read_sample(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> repository.SampleRow:
    """A visible sample's shown columns, read in one statement."""
    row = await repository.get_row(session, actor, sample_id)
    if row is None:
        raise SampleNotFound(f"No sample {sample_id} here.", sample_id=str(sample_id))
    return row


async def read_sample_by_code(session: AsyncSession, actor: Actor, code: str) -> repository.SampleRow:
    """The visible sample a scanned barcode or typed human ID names."""
    row = await repository.get_row_by_code(session, actor, code.strip())
    if row is None:
        raise SampleNotFound(f"No sample here has the barcode or ID {code.strip()!r}.", lookup=code.strip())
    return row


async def sample_as_of(session: AsyncSession, actor: Actor, sample_id: uuid.UUID, at: datetime) -> SampleOut:
    """The sample as it was at ``at``, rebuilt from its events alone."""
    sample = await get_sample(session, actor, sample_id)
    past = await history.of_aggregate(session, actor.tenant_id, AGGREGATE, sample.id, until=at)
    if not past:
        raise SampleNotFound(f"Sample {sample.human_id} did not exist yet at {at.isoformat()}.")
    return fold(sample.id, past)


def fold(sample_id: uuid.UUID, past: Sequence[PastEvent]) -> SampleOut:
    created, *later = past
    # Newer creations carry their values once, as changes from nothing; older ones also as data.
    initial = {**created.data, **{name: new for name, (_old, new) in created.data.get("changes", {}).items()}}
    state: dict[str, Any] = {name: initial.get(name) for name in SNAPSHOT_FIELDS}
    state.update(
        id=sample_id,
        created_at=created.occurred_at,
        updated_at=created.occurred_at,
        status_changed_at=created.occurred_at,
        version=created.version,
    )
    for event in later:
        changes: Mapping[str, Any] = event.data.get("changes", {})
        for name, (_old, new) in changes.items():
            if name in SNAPSHOT_FIELDS:
                state[name] = new
        if "status" in changes:
            state["status_changed_at"] = event.occurred_at
        state["updated_at"] = event.occurred_at
        state["version"] = event.version
    return SampleOut.model_validate(state)


async def sample_events(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> list[PastEvent]:
    sample = await get_sample(session, actor, sample_id)
    return await history.of_aggregate(session, actor.tenant_id, AGGREGATE, sample.id)


async def sample_steps(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> list[ProcessingStep]:
    sample = await get_sample(session, actor, sample_id)
    return await repository.steps(session, sample.id)


async def sample_qc(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> list[QcMeasurement]:
    sample = await get_sample(session, actor, sample_id)
    return await repository.qc_measurements(session, [sample.id])


@dataclass(frozen=True)
class SampleRecord:
    """A sample with everything its page shows: fields, steps, QC and history."""

    row: repository.SampleRow
    steps: list[ProcessingStep]
    qc: list[QcMeasurement]
    events: list[PastEvent]


async def sample_record(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> SampleRecord:
    """One visibility check, then the sample's steps, QC and events (a page's worth, four statements)."""
    row = await read_sample(session, actor, sample_id)
    return SampleRecord(
        row=row,
        steps=await repository.steps(session, row.id),
        qc=await repository.qc_measurements(session, [row.id]),
        events=await history.of_aggregate(session, actor.tenant_id, AGGREGATE, row.id),
    )


async def read_samples(
    session: AsyncSession, actor: Actor, sample_ids: Sequence[uuid.UUID]
) -> list[repository.SampleRow]:
    """The visible ones of these samples, shown columns only, in one statement (storage's grids and labels)."""
    return await repository.rows_by_ids(session, actor, sample_ids)


async def find_sample(session: AsyncSession, actor: Actor, code: str) -> repository.SampleRow | None:
    """The visible sample a scanned code names: its barcode, its ID (SEQ-000001) or its UUID."""
    try:
        sample_id = uuid.UUID(code)
    except ValueError:
        return await repository.row_by_code(session, actor, code)
    return await repository.get_row(session, actor, sample_id)


async def find_samples(session: AsyncSession, actor: Actor, codes: Sequence[str]) -> dict[str, repository.SampleRow]:
    """Each scanned code that names a visible sample (by barcode or ID), mapped to it; a rack of tubes at once."""
    rows = await repository.rows_by_codes(session, actor, codes)
    by_barcode = {row.barcode: row for row in rows if row.barcode is not None}
    by_human_id = {row.human_id: row for row in rows}
    found: dict[str, repository.SampleRow] = {}
    for code in codes:
        row = by_barcode.get(code) or by_human_id.get(code.upper())
        if row is not None:
            found[code] = row
    return found


async def newest_samples(session: AsyncSession, actor: Actor, limit: int) -> list[repository.SampleRow]:
    """The visible samples, newest first (demo data places them in storage)."""
    rows, _next = await repository.page(session, actor, repository.SampleFilter(), "-created_at", None, limit)
    return rows


async def search_samples(session: AsyncSession, actor: Actor, text: str, limit: int = 20) -> list[repository.SampleRow]:
    """Visible samples whose ID, barcode, name, submitter or organism contains ``text``, newest first."""
    exact = await find_sample(session, actor, text.strip())
    if exact is not None:
        return [exact]
    rows, _next = await repository.page(session, actor, repository.SampleFilter(q=text), "-created_at", None, limit)
    return rows
