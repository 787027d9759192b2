"""Queries over the sequencing tables: tenant scoping, keyset pages, lineage. No rules, no writes."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from seqtrack.platform.pagination import SortKey, apply_keyset, parse_datetime, split_page
from seqtrack.sequencing.lifecycle import RunState
from seqtrack.sequencing.models import (
    BarcodeResult,
    FlowCell,
    Instrument,
    Library,
    LibrarySample,
    Pool,
    PoolLibrary,
    Run,
    SequencingSettings,
)

Listed = TypeVar("Listed", Instrument, FlowCell, Library, Pool, Run)


async def page(
    session: AsyncSession,
    model: type[Listed],
    tenant_id: uuid.UUID,
    cursor: str | None,
    limit: int,
    *,
    where: Sequence[Any] = (),
) -> tuple[list[Listed], str | None]:
    """Newest first, one keyset page; each table has a (tenant_id, created_at, id) index for it."""
    query: Select[Listed] = select(model).where(model.tenant_id == tenant_id, *where)
    query = apply_keyset(
        query, SortKey(model.created_at, parse_datetime), model.id, descending=True, cursor=cursor, limit=limit
    )
    rows = list(await session.scalars(query))
    return split_page(rows, limit, lambda row: (row.created_at, row.id))


async def one(session: AsyncSession, model: type[Listed], tenant_id: uuid.UUID, row_id: uuid.UUID) -> Listed | None:
    row = await session.get(model, row_id)
    return row if row is not None and row.tenant_id == tenant_id else None


async def settings(session: AsyncSession, tenant_id: uuid.UUID) -> SequencingSettings | None:
    row: SequencingSettings | None = await session.get(SequencingSettings, tenant_id)
    return row


async def libraries(session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[Library]:
    if not ids:
        return []
    return list(await session.scalars(select(Library).where(Library.tenant_id == tenant_id, Library.id.in_(ids))))


async def library_samples(
    session: AsyncSession, library_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[LibrarySample]]:
    found: dict[uuid.UUID, list[LibrarySample]] = defaultdict(list)
    if not library_ids:
        return found
    rows = await session.scalars(
        select(LibrarySample)
        .where(LibrarySample.library_id.in_(list(library_ids)))
        .order_by(LibrarySample.sample_human_id)
    )
    for row in rows:
        found[row.library_id].append(row)
    return found


async def pool_libraries(session: AsyncSession, pool_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Library]]:
    found: dict[uuid.UUID, list[Library]] = defaultdict(list)
    if not pool_ids:
        return found
    rows = await session.execute(
        select(PoolLibrary.pool_id, Library)
        .join(Library, Library.id == PoolLibrary.library_id)
        .where(PoolLibrary.pool_id.in_(list(pool_ids)))
        .order_by(Library.barcode, Library.name)
    )
    for pool_id, library in rows:
        found[pool_id].append(library)
    return found


async def run_on_position(
    session: AsyncSession, instrument_id: uuid.UUID, position: str, other_than: uuid.UUID
) -> Run | None:
    run: Run | None = await session.scalar(
        select(Run).where(
            Run.instrument_id == instrument_id,
            Run.position == position,
            Run.state == RunState.RUNNING.value,
            Run.id != other_than,
        )
    )
    return run


async def running_on(session: AsyncSession, instrument_ids: Sequence[uuid.UUID]) -> list[Run]:
    if not instrument_ids:
        return []
    return list(
        await session.scalars(
            select(Run).where(Run.instrument_id.in_(list(instrument_ids)), Run.state == RunState.RUNNING.value)
        )
    )


async def libraries_run_on_flow_cell(
    session: AsyncSession, flow_cell_id: uuid.UUID, other_than: uuid.UUID | None
) -> list[Library]:
    """Libraries of runs that were started on this flow cell (what a wash may leave behind)."""
    query = (
        select(Library)
        .join(PoolLibrary, PoolLibrary.library_id == Library.id)
        .join(Run, Run.pool_id == PoolLibrary.pool_id)
        .where(Run.flow_cell_id == flow_cell_id, Run.started_at.is_not(None))
    )
    if other_than is not None:
        query = query.where(Run.id != other_than)
    return list((await session.scalars(query)).unique())


async def barcode_results(session: AsyncSession, run_id: uuid.UUID) -> list[BarcodeResult]:
    return list(
        await session.scalars(
            select(BarcodeResult).where(BarcodeResult.run_id == run_id).order_by(BarcodeResult.barcode)
        )
    )


async def delete_barcode_results(session: AsyncSession, run_id: uuid.UUID) -> None:
    for row in await barcode_results(session, run_id):
        await session.delete(row)
    await session.flush()


LineageRow = Row[Any]


async def lineage(session: AsyncSession, tenant_id: uuid.UUID, sample_id: uuid.UUID) -> list[LineageRow]:
    """Sample → library → pool → run → flow cell → the library's barcode result, in one statement."""
    query = (
        select(
            Library.id.label("library_id"),
            Library.name.label("library_name"),
            Library.kit,
            Library.barcode,
            Pool.id.label("pool_id"),
            Pool.name.label("pool_name"),
            Run.id.label("run_id"),
            Run.experiment_id,
            Run.state.label("run_state"),
            Run.started_at,
            Run.ended_at,
            FlowCell.id.label("flow_cell_id"),
            FlowCell.serial.label("flow_cell_serial"),
            FlowCell.product_code,
            BarcodeResult.reads,
            BarcodeResult.bases,
            BarcodeResult.pass_reads,
            BarcodeResult.pass_bases,
            BarcodeResult.n50,
            BarcodeResult.mean_qscore,
            BarcodeResult.pass_rate,
        )
        .select_from(LibrarySample)
        .join(Library, Library.id == LibrarySample.library_id)
        .outerjoin(PoolLibrary, PoolLibrary.library_id == Library.id)
        .outerjoin(Pool, Pool.id == PoolLibrary.pool_id)
        .outerjoin(Run, Run.pool_id == Pool.id)
        .outerjoin(FlowCell, FlowCell.id == Run.flow_cell_id)
        .outerjoin(BarcodeResult, (BarcodeResult.run_id == Run.id) & (BarcodeResult.library_id == Library.id))
        .where(LibrarySample.tenant_id == tenant_id, LibrarySample.sample_id == sample_id)
        .order_by(Library.created_at, Library.id, Pool.created_at, Run.created_at)
    )
    rows: list[LineageRow] = list((await session.execute(query)).all())  # type: ignore[arg-type]  # typed row of 21 columns read by name
    return rows


async def by_ids(session: AsyncSession, model: type[Listed], ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Listed]:
    if not ids:
        return {}
    return {row.id: row for row in await session.scalars(select(model).where(model.id.in_(list(set(ids)))))}


async def libraries_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Library]:
    return await by_ids(session, Library, ids)


async def count_by_state(
    session: AsyncSession, model: type[Run] | type[FlowCell], tenant_id: uuid.UUID
) -> dict[str, int]:
    rows = await session.execute(
        select(model.state, func.count()).where(model.tenant_id == tenant_id).group_by(model.state)
    )
    return {state: int(count) for state, count in rows}


async def count_flow_cells(session: AsyncSession, tenant_id: uuid.UUID, *where: ColumnElement[bool]) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(FlowCell).where(FlowCell.tenant_id == tenant_id, *where))
        or 0
    )


async def imported_metrics(session: AsyncSession, tenant_id: uuid.UUID, since: datetime) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(Run.metrics).where(
            Run.tenant_id == tenant_id, Run.results_imported_at >= since, Run.metrics.is_not(None)
        )
    )
    return [row for row in rows if row]
