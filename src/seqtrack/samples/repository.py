"""Queries over samples: scoping, filters, keyset pages. No rules, no writes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Row, ScalarSelect, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.platform.actor import Actor
from seqtrack.platform.models import utcnow
from seqtrack.platform.pagination import (
    SortKey,
    apply_keyset,
    parse_datetime,
    parse_int,
    split_page,
)
from seqtrack.samples.lifecycle import OPEN
from seqtrack.samples.models import ProcessingStep, QcMeasurement, Sample, SampleSettings
from seqtrack.samples.rules import like_pattern
from seqtrack.samples.views import COLUMNS

AGGREGATE = "sample"
# The read path is plain SQL over the table's columns: no ORM entity, no identity map.
_column = Sample.__table__.c
_SHOWN = select(*COLUMNS)

SORT_KEYS: dict[str, SortKey] = {
    "created_at": SortKey(_column.created_at, parse_datetime),
    "updated_at": SortKey(_column.updated_at, parse_datetime),
    "human_id": SortKey(_column.number, parse_int),
    "due": SortKey(_column.due_at, parse_datetime),
    "priority": SortKey(_column.priority_rank, parse_int),
}
SORT_ATTRIBUTES = {"created_at": "created_at", "updated_at": "updated_at", "human_id": "number", "due": "due_at"}
SampleRow = Row[Any]
Columns = TypeVarTuple("Columns")


@dataclass(frozen=True)
class SampleFilter:
    status: Sequence[str] = ()
    priority: Sequence[str] = ()
    lab_id: uuid.UUID | None = None
    project: str | None = None
    submitter_id: uuid.UUID | None = None
    sample_type: Sequence[str] = ()
    flow_cell_type: str | None = None
    assigned_to: uuid.UUID | None = None
    overdue: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    due_from: date | None = None
    due_to: date | None = None
    q: str | None = None
    ids: Sequence[uuid.UUID] = field(default_factory=tuple)


def scoped(query: Select[*Columns], actor: Actor) -> Select[*Columns]:
    """Only the caller's tenant, and for submitters only their own labs' samples."""
    query = query.where(_column.tenant_id == actor.tenant_id)
    if actor.sees_only_own_labs:
        query = query.where(_column.lab_id.in_(list(actor.lab_ids)))
    return query


def filtered(query: Select[Any], filters: SampleFilter) -> Select[Any]:
    if filters.status:
        query = query.where(_column.status.in_(list(filters.status)))
    if filters.priority:
        query = query.where(_column.priority.in_(list(filters.priority)))
    if filters.sample_type:
        query = query.where(_column.sample_type.in_(list(filters.sample_type)))
    if filters.lab_id is not None:
        query = query.where(_column.lab_id == filters.lab_id)
    if filters.project is not None:
        query = query.where(_column.project == filters.project)
    if filters.submitter_id is not None:
        query = query.where(_column.submitter_id == filters.submitter_id)
    if filters.flow_cell_type is not None:
        query = query.where(_column.flow_cell_type == filters.flow_cell_type.upper())
    if filters.assigned_to is not None:
        query = query.where(_column.assigned_to == filters.assigned_to)
    if filters.overdue is not None:
        late = _column.status.in_(list(OPEN)) & (_column.due_at < utcnow())
        query = query.where(late if filters.overdue else ~late)
    if filters.created_from is not None:
        query = query.where(_column.created_at >= filters.created_from)
    if filters.created_to is not None:
        query = query.where(_column.created_at < filters.created_to)
    if filters.due_from is not None:
        query = query.where(_column.due_date >= filters.due_from)
    if filters.due_to is not None:
        query = query.where(_column.due_date <= filters.due_to)
    if filters.q:
        query = query.where(_column.search_text.like(like_pattern(filters.q), escape="\\"))
    if filters.ids:
        query = query.where(_column.id.in_(list(filters.ids)))
    return query


def _sort(sort: str) -> tuple[SortKey, bool, str]:
    descending = sort.startswith("-")
    name = sort.removeprefix("-")
    return SORT_KEYS[name], descending, name


async def page(
    session: AsyncSession, actor: Actor, filters: SampleFilter, sort: str, cursor: str | None, limit: int
) -> tuple[list[SampleRow], str | None]:
    """One keyset page of the columns the API shows, as plain rows (no ORM object per row)."""
    key, descending, name = _sort(sort)
    query = apply_keyset(
        filtered(scoped(_SHOWN, actor), filters),
        key,
        _column.id,
        descending=descending,
        cursor=cursor,
        limit=limit,
    )
    rows = list((await session.execute(query)).all())
    attribute = SORT_ATTRIBUTES.get(name, "priority_rank")
    return split_page(rows, limit, lambda row: (getattr(row, attribute), row.id))


async def stream(
    session: AsyncSession, actor: Actor, filters: SampleFilter, sort: str, batch: int = 500
) -> AsyncIterator[list[SampleRow]]:
    """Every matching sample in keyset batches, so an export never holds the whole table."""
    cursor: str | None = None
    while True:
        rows, cursor = await page(session, actor, filters, sort, cursor, batch)
        yield rows
        if cursor is None:
            return


async def get_row(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> SampleRow | None:
    """The columns the API shows of one visible sample, for reading."""
    query = scoped(_SHOWN, actor).where(_column.id == sample_id)
    row: SampleRow | None = (await session.execute(query)).first()
    return row


async def get_row_by_code(session: AsyncSession, actor: Actor, code: str) -> SampleRow | None:
    """The visible sample whose barcode or human ID is exactly ``code`` (both are unique per facility)."""
    query = scoped(_SHOWN, actor).where(or_(_column.barcode == code, _column.human_id.in_({code, code.upper()})))
    row: SampleRow | None = (await session.execute(query.limit(1))).first()
    return row


async def current_steps(session: AsyncSession, sample_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each sample's first unfinished processing step (none once all are done or skipped)."""
    if not sample_ids:
        return {}
    rows = await session.execute(
        select(ProcessingStep.sample_id, ProcessingStep.name)
        .where(
            ProcessingStep.sample_id.in_(list(sample_ids)),
            ProcessingStep.status.in_(("pending", "in_progress", "failed")),
        )
        .order_by(ProcessingStep.sample_id, ProcessingStep.position)
    )
    current: dict[uuid.UUID, str] = {}
    for sample_id, name in rows:
        current.setdefault(sample_id, name)
    return current


@dataclass(frozen=True)
class Loaded:
    """A sample to change and, when this call read it, its tenant's settings version (None: never saved)."""

    sample: Sample
    settings_version: int | None = None
    settings_version_read: bool = False


def settings_version(tenant_id: uuid.UUID) -> ScalarSelect[int]:
    return select(SampleSettings.version).where(SampleSettings.tenant_id == tenant_id).scalar_subquery()


_LOADED = "seqtrack.samples.loaded"


async def get(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> Loaded | None:
    """One visible sample to change, read once per unit of work.

    The first read also fetches the tenant's settings version; later reads in
    the same unit of work (the route's dependency checked the sample exists,
    then the service changes it) reuse that sample, with ``settings_version``
    :data:`NOT_READ`. The session keeps it: its identity map holds clean
    objects only weakly.
    """
    loaded: dict[uuid.UUID, Sample] = session.info.setdefault(_LOADED, {})
    sample = loaded.get(sample_id)
    if sample is not None:
        return Loaded(sample) if visible(sample, actor) else None
    query = select(Sample, settings_version(actor.tenant_id)).where(Sample.id == sample_id)
    row = (await session.execute(query)).first()
    if row is None or not visible(row[0], actor):
        return None
    loaded[sample_id] = row[0]
    return Loaded(row[0], row[1], settings_version_read=True)


async def get_many(
    session: AsyncSession, actor: Actor, sample_ids: Sequence[uuid.UUID]
) -> tuple[list[Sample], int | None]:
    """The visible ones of ``sample_ids``, and the tenant's settings version read with them (None: none found
    or never saved)."""
    rows = (
        await session.execute(
            scoped(select(Sample, settings_version(actor.tenant_id)), actor).where(Sample.id.in_(list(sample_ids)))
        )
    ).all()
    return [row[0] for row in rows], (rows[0][1] if rows else None)


def visible(sample: Sample, actor: Actor) -> bool:
    """The rule :func:`scoped` applies in SQL, for a sample already in hand."""
    if sample.tenant_id != actor.tenant_id:
        return False
    return not actor.sees_only_own_labs or sample.lab_id in actor.lab_ids


async def barcode_taken(
    session: AsyncSession, tenant_id: uuid.UUID, barcode: str, other_than: uuid.UUID | None = None
) -> bool:
    query = select(func.count()).select_from(Sample).where(Sample.tenant_id == tenant_id, Sample.barcode == barcode)
    if other_than is not None:
        query = query.where(Sample.id != other_than)
    return bool(await session.scalar(query))


async def taken_barcodes(session: AsyncSession, tenant_id: uuid.UUID, barcodes: Sequence[str]) -> set[str]:
    query = select(_column.barcode).where(_column.tenant_id == tenant_id, _column.barcode.in_(list(barcodes)))
    return {str(value) for value in (await session.scalars(query)).all()}


async def taken_names(
    session: AsyncSession, tenant_id: uuid.UUID, project: str | None, names: Sequence[str]
) -> set[str]:
    same_project = _column.project.is_(None) if project is None else _column.project == project
    query = select(_column.name).where(_column.tenant_id == tenant_id, same_project, _column.name.in_(list(names)))
    return {str(value) for value in (await session.scalars(query)).all()}


async def settings(session: AsyncSession, tenant_id: uuid.UUID) -> SampleSettings | None:
    row: SampleSettings | None = await session.get(SampleSettings, tenant_id)
    return row


async def steps(session: AsyncSession, sample_id: uuid.UUID) -> list[ProcessingStep]:
    return list(
        await session.scalars(
            select(ProcessingStep).where(ProcessingStep.sample_id == sample_id).order_by(ProcessingStep.position)
        )
    )


async def steps_of(session: AsyncSession, sample_ids: Sequence[uuid.UUID]) -> list[ProcessingStep]:
    if not sample_ids:
        return []
    return list(
        await session.scalars(
            select(ProcessingStep)
            .where(ProcessingStep.sample_id.in_(list(sample_ids)))
            .order_by(ProcessingStep.sample_id, ProcessingStep.position)
        )
    )


async def qc_measurements(session: AsyncSession, sample_ids: Sequence[uuid.UUID]) -> list[QcMeasurement]:
    return list(
        await session.scalars(
            select(QcMeasurement)
            .where(QcMeasurement.sample_id.in_(list(sample_ids)))
            .order_by(QcMeasurement.measured_at, QcMeasurement.id)
        )
    )


async def rows_by_ids(session: AsyncSession, actor: Actor, sample_ids: Sequence[uuid.UUID]) -> list[SampleRow]:
    """The shown columns of the visible ones of ``sample_ids``, in one statement."""
    if not sample_ids:
        return []
    query = scoped(_SHOWN, actor).where(_column.id.in_(list(sample_ids)))
    return list((await session.execute(query)).all())


async def row_by_code(session: AsyncSession, actor: Actor, code: str) -> SampleRow | None:
    """The visible sample whose barcode or human ID is ``code`` (a barcode wins a tie)."""
    query = scoped(_SHOWN, actor).where((_column.barcode == code) | (_column.human_id == code.upper())).limit(2)
    rows = list((await session.execute(query)).all())
    rows.sort(key=lambda row: row.barcode != code)
    return rows[0] if rows else None


async def rows_by_codes(session: AsyncSession, actor: Actor, codes: Sequence[str]) -> list[SampleRow]:
    """The visible samples whose barcode or human ID is one of ``codes``, in one statement."""
    if not codes:
        return []
    wanted = list(codes)
    query = scoped(_SHOWN, actor).where(
        _column.barcode.in_(wanted) | _column.human_id.in_([code.upper() for code in wanted])
    )
    return list((await session.execute(query)).all())
