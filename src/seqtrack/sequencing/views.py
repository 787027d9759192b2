"""What the API (and the web pages) show of sequencing rows, assembled once per request."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.sequencing import catalog, repository
from seqtrack.sequencing.models import BarcodeResult, FlowCell, Instrument, Library, LibrarySample, Pool, Run
from seqtrack.sequencing.schemas import (
    BarcodeResultOut,
    FlowCellOut,
    InstrumentOut,
    LibraryOut,
    LineageLibrary,
    LineageOut,
    LineagePool,
    LineageRun,
    Named,
    PoolOut,
    PositionOut,
    RunFlowCell,
    RunMetrics,
    RunOut,
    SampleRef,
    SampleYield,
)
from seqtrack.sequencing.service import FlowCellView, Lineage


def instrument_out(instrument: Instrument, busy: dict[tuple[uuid.UUID, str], Run]) -> InstrumentOut:
    model = catalog.INSTRUMENT_MODELS[instrument.model]
    positions = []
    for name in model.positions:
        run = busy.get((instrument.id, name))
        positions.append(
            PositionOut(
                name=name,
                running_run_id=run.id if run else None,
                running_experiment_id=run.experiment_id if run else None,
            )
        )
    return InstrumentOut(
        id=instrument.id,
        name=instrument.name,
        model=instrument.model,
        model_name=model.name,
        vendor=model.vendor.value,
        serial=instrument.serial,
        positions=positions,
        flow_cell_types=list(model.flow_cell_types),
        version=instrument.version,
        created_at=instrument.created_at,
    )


def flow_cell_out(view: FlowCellView) -> FlowCellOut:
    cell = view.flow_cell
    return FlowCellOut(
        id=cell.id,
        serial=cell.serial,
        product_code=cell.product_code,
        lot=cell.lot,
        expiry_date=cell.expiry_date,
        expired=view.expired,
        state=cell.state,
        pore_count=cell.pore_count,
        checked_at=cell.checked_at,
        warranty_pores=view.warranty_pores,
        below_warranty=view.below_warranty,
        runs_started=cell.runs_started,
        notes=cell.notes,
        version=cell.version,
        created_at=cell.created_at,
        updated_at=cell.updated_at,
    )


def _samples(members: Sequence[LibrarySample]) -> list[SampleRef]:
    return [SampleRef(id=member.sample_id, human_id=member.sample_human_id) for member in members]


def library_out(library: Library, members: Sequence[LibrarySample]) -> LibraryOut:
    return LibraryOut(
        id=library.id,
        name=library.name,
        kit=library.kit,
        barcode=library.barcode,
        samples=_samples(members),
        version=library.version,
        created_at=library.created_at,
    )


async def libraries_out(session: AsyncSession, libraries: Sequence[Library]) -> list[LibraryOut]:
    members = await repository.library_samples(session, [library.id for library in libraries])
    return [library_out(library, members[library.id]) for library in libraries]


async def pools_out(session: AsyncSession, pools: Sequence[Pool]) -> list[PoolOut]:
    libraries = await repository.pool_libraries(session, [pool.id for pool in pools])
    members = await repository.library_samples(
        session, [library.id for pooled in libraries.values() for library in pooled]
    )
    return [
        PoolOut(
            id=pool.id,
            name=pool.name,
            libraries=[library_out(library, members[library.id]) for library in libraries[pool.id]],
            version=pool.version,
            created_at=pool.created_at,
        )
        for pool in pools
    ]


def _metrics(figures: dict[str, object] | BarcodeResult | None) -> RunMetrics | None:
    if figures is None:
        return None
    if isinstance(figures, BarcodeResult):
        return RunMetrics.model_validate(figures, from_attributes=True)
    return RunMetrics.model_validate(figures)


async def runs_out(session: AsyncSession, runs: Sequence[Run]) -> list[RunOut]:
    instruments = await repository.by_ids(session, Instrument, [run.instrument_id for run in runs])
    flow_cells = await repository.by_ids(session, FlowCell, [run.flow_cell_id for run in runs])
    pools = await repository.by_ids(session, Pool, [run.pool_id for run in runs])
    return [
        run_out(run, instruments[run.instrument_id], flow_cells[run.flow_cell_id], pools[run.pool_id]) for run in runs
    ]


def run_out(run: Run, instrument: Instrument, flow_cell: FlowCell, pool: Pool) -> RunOut:
    return RunOut(
        id=run.id,
        experiment_id=run.experiment_id,
        instrument=Named(id=instrument.id, name=instrument.name),
        position=run.position,
        flow_cell=RunFlowCell(id=flow_cell.id, serial=flow_cell.serial, product_code=flow_cell.product_code),
        pool=Named(id=pool.id, name=pool.name),
        state=run.state,
        state_reason=run.state_reason,
        basecalling_model=run.basecalling_model,
        run_length_hours=run.run_length_hours,
        min_read_length=run.min_read_length,
        started_at=run.started_at,
        ended_at=run.ended_at,
        results_imported_at=run.results_imported_at,
        metrics=_metrics(run.metrics),
        version=run.version,
        created_at=run.created_at,
    )


async def barcode_table(session: AsyncSession, run: Run) -> list[BarcodeResultOut]:
    """The run's per-barcode figures; a barcode nobody pooled is listed with known=False."""
    results = await repository.barcode_results(session, run.id)
    library_ids = [result.library_id for result in results if result.library_id is not None]
    libraries = await repository.libraries_by_id(session, library_ids)
    members = await repository.library_samples(session, library_ids)
    table = []
    for result in results:
        library = libraries.get(result.library_id) if result.library_id else None
        metrics = _metrics(result)
        assert metrics is not None
        table.append(
            BarcodeResultOut(
                barcode=result.barcode,
                known=library is not None,
                library=Named(id=library.id, name=library.name) if library else None,
                samples=_samples(members[library.id]) if library else [],
                **metrics.model_dump(),
            )
        )
    return table


def lineage_out(found: Lineage) -> LineageOut:
    libraries: dict[uuid.UUID, LineageLibrary] = {}
    pools: dict[tuple[uuid.UUID, uuid.UUID], LineagePool] = {}
    runs: set[uuid.UUID] = set()
    reads = bases = pass_bases = 0
    for row in found.rows:
        library = libraries.get(row.library_id)
        if library is None:
            library = LineageLibrary(
                id=row.library_id,
                name=row.library_name,
                kit=row.kit,
                barcode=row.barcode,
                shared_with=[
                    member.sample_human_id
                    for member in found.members.get(row.library_id, [])
                    if member.sample_id != found.sample_id
                ],
                pools=[],
            )
            libraries[row.library_id] = library
        if row.pool_id is None:
            continue
        pool = pools.get((row.library_id, row.pool_id))
        if pool is None:
            pool = LineagePool(id=row.pool_id, name=row.pool_name, runs=[])
            pools[(row.library_id, row.pool_id)] = pool
            library.pools.append(pool)
        if row.run_id is None:
            continue
        result = None
        if row.reads is not None:
            result = RunMetrics(
                reads=row.reads,
                bases=row.bases,
                pass_reads=row.pass_reads,
                pass_bases=row.pass_bases,
                n50=row.n50,
                mean_qscore=row.mean_qscore,
                pass_rate=row.pass_rate,
            )
            reads, bases, pass_bases = reads + row.reads, bases + row.bases, pass_bases + row.pass_bases
        runs.add(row.run_id)
        pool.runs.append(
            LineageRun(
                id=row.run_id,
                experiment_id=row.experiment_id,
                state=row.run_state,
                started_at=row.started_at,
                ended_at=row.ended_at,
                flow_cell=RunFlowCell(id=row.flow_cell_id, serial=row.flow_cell_serial, product_code=row.product_code),
                result=result,
            )
        )
    return LineageOut(
        sample=SampleRef(id=found.sample_id, human_id=found.human_id),
        status=found.status,
        libraries=list(libraries.values()),
        total=SampleYield(runs=len(runs), reads=reads, bases=bases, pass_bases=pass_bases),
    )
