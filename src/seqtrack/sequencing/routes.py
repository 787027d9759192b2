"""The sequencing API: thin routes over the sequencing service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile
from sqlalchemy.sql.elements import ColumnElement

from seqtrack.platform.deps import IfMatch, ReadSession, WriteSession
from seqtrack.platform.errors import InvalidInput
from seqtrack.platform.etag import make_etag, tag_version
from seqtrack.platform.idempotency import Once, StoredResponse
from seqtrack.platform.pagination import Page
from seqtrack.platform.responses import CSV, download, plain_json
from seqtrack.platform.settings_routes import SettingsDocs, facility_settings_routes
from seqtrack.sequencing import catalog, repository, service, views
from seqtrack.sequencing.deps import (
    SETTINGS_ACCESS,
    CanRead,
    CanWrite,
    FlowCellList,
    FlowCellToWrite,
    Paged,
    RunList,
    RunToMove,
    RunToWrite,
    Signature,
)
from seqtrack.sequencing.models import FlowCell, Instrument, Library, Pool, Run
from seqtrack.sequencing.schemas import (
    CatalogOut,
    FlowCellCheckIn,
    FlowCellIn,
    FlowCellMoveIn,
    FlowCellOut,
    FlowCellTypeOut,
    InstrumentIn,
    InstrumentModelOut,
    InstrumentOut,
    KitOut,
    LibraryIn,
    LibraryOut,
    LineageOut,
    PoolCheckIn,
    PoolCheckOut,
    PoolIn,
    PoolOut,
    RunIn,
    RunMoveIn,
    RunOut,
    RunResultsOut,
    SettingsOut,
    SettingsUpdate,
)

router = APIRouter(prefix="/sequencing", tags=["sequencing"])

MAX_REPORT_BYTES = 512 * 1024 * 1024


def _created(body: object, location: str, etag: str | None = None) -> StoredResponse:
    headers = {"Location": location, **({"ETag": etag} if etag else {})}
    return StoredResponse(201, plain_json(body), headers)


# ---------------------------------------------------------------- catalog and settings


@router.get("/catalog", response_model=CatalogOut)
async def read_catalog(actor: CanRead) -> CatalogOut:
    """The kits (with barcode sets), flow cell types and instrument models SeqTrack knows."""
    return CatalogOut(
        kits=[
            KitOut(
                code=kit.code, name=kit.name, chemistry=kit.chemistry, adapter=kit.adapter, barcodes=list(kit.barcodes)
            )
            for kit in catalog.KITS.values()
        ],
        flow_cell_types=[
            FlowCellTypeOut(
                product_code=c.product_code, name=c.name, chemistry=c.chemistry, warranty_pores=c.warranty_pores
            )
            for c in catalog.FLOW_CELL_TYPES.values()
        ],
        instrument_models=[
            InstrumentModelOut(
                code=m.code,
                name=m.name,
                vendor=m.vendor.value,
                positions=list(m.positions),
                flow_cell_types=list(m.flow_cell_types),
            )
            for m in catalog.INSTRUMENT_MODELS.values()
        ],
    )


_SETTINGS_DOCS = SettingsDocs(
    read="The facility's warranty pore counts per flow cell type.",
    update="Change warranty pore counts; needs the ETag you read in If-Match.",
)
facility_settings_routes(router, service, SettingsOut, SettingsUpdate, access=SETTINGS_ACCESS, docs=_SETTINGS_DOCS)


# ---------------------------------------------------------------- instruments


@router.get("/instruments", response_model=Page[InstrumentOut])
async def list_instruments(session: ReadSession, actor: CanRead, paged: Paged) -> Page[InstrumentOut]:
    """The facility's instruments with what is running on each position."""
    rows, cursor = await repository.page(session, Instrument, actor.tenant_id, paged.cursor, paged.limit)
    busy = await service.busy_positions(session, rows)
    return Page(items=[views.instrument_out(row, busy) for row in rows], next_cursor=cursor)


@router.post("/instruments", response_model=InstrumentOut, status_code=201)
async def register_instrument(body: InstrumentIn, session: WriteSession, actor: CanWrite, once: Once) -> Response:
    """Register an instrument; its positions come from its model."""

    async def create() -> StoredResponse:
        instrument = await service.register_instrument(session, actor, body)
        out = views.instrument_out(instrument, {})
        return _created(out.model_dump(mode="json"), once.location(instrument.id))

    return await once.respond(actor, create)


@router.get("/instruments/{instrument_id}", response_model=InstrumentOut)
async def read_instrument(instrument_id: uuid.UUID, session: ReadSession, actor: CanRead) -> InstrumentOut:
    """One instrument and its positions."""
    instrument = await service.get_instrument(session, actor, instrument_id)
    return views.instrument_out(instrument, await service.busy_positions(session, [instrument]))


# ---------------------------------------------------------------- flow cells


@router.get("/flow-cells", response_model=Page[FlowCellOut])
async def list_flow_cells(session: ReadSession, actor: CanRead, wanted: FlowCellList) -> Page[FlowCellOut]:
    """The flow cell inventory, newest first; each says whether it is below its warranty pore count."""
    settings = await service.read_settings(session, actor.tenant_id)
    where: list[ColumnElement[bool]] = []
    if wanted.state:
        where.append(FlowCell.state.in_([state.value for state in wanted.state]))
    if wanted.below_warranty is not None:
        below = service.below_warranty_condition(settings)
        where.append(below if wanted.below_warranty else ~below)
    rows, cursor = await repository.page(session, FlowCell, actor.tenant_id, wanted.cursor, wanted.limit, where=where)
    return Page(items=[views.flow_cell_out(service.view_flow_cell(row, settings)) for row in rows], next_cursor=cursor)


@router.post("/flow-cells", response_model=FlowCellOut, status_code=201)
async def receive_flow_cell(body: FlowCellIn, session: WriteSession, actor: CanWrite, once: Once) -> Response:
    """Book a delivered flow cell into stock."""

    async def create() -> StoredResponse:
        flow_cell = await service.receive_flow_cell(session, actor, body)
        out = views.flow_cell_out(
            service.view_flow_cell(flow_cell, await service.read_settings(session, actor.tenant_id))
        )
        return _created(
            out.model_dump(mode="json"),
            once.location(flow_cell.id),
            make_etag(flow_cell.id, flow_cell.version),
        )

    return await once.respond(actor, create)


@router.get("/flow-cells/{flow_cell_id}", response_model=FlowCellOut)
async def read_flow_cell(
    flow_cell_id: uuid.UUID, session: ReadSession, actor: CanRead, response: Response
) -> FlowCellOut:
    """One flow cell, its state and its last pore count against the warranty."""
    flow_cell = await service.get_flow_cell(session, actor, flow_cell_id)
    tag_version(response, flow_cell.id, flow_cell.version)
    return views.flow_cell_out(service.view_flow_cell(flow_cell, await service.read_settings(session, actor.tenant_id)))


@router.post("/flow-cells/{flow_cell_id}/check", response_model=FlowCellOut)
async def check_flow_cell(
    flow_cell_id: FlowCellToWrite,
    body: FlowCellCheckIn,
    session: WriteSession,
    actor: CanWrite,
    response: Response,
    if_match: IfMatch = None,
) -> FlowCellOut:
    """Record a platform check's pore count; below the warranty count the flow cell is flagged."""
    view = await service.check_flow_cell(session, actor, flow_cell_id, body.pore_count, if_match)
    tag_version(response, view.flow_cell.id, view.flow_cell.version)
    return views.flow_cell_out(view)


@router.post("/flow-cells/{flow_cell_id}/transitions", response_model=FlowCellOut)
async def move_flow_cell(
    flow_cell_id: FlowCellToWrite,
    body: FlowCellMoveIn,
    session: WriteSession,
    actor: CanWrite,
    response: Response,
    if_match: IfMatch = None,
) -> FlowCellOut:
    """Wash, spend or return a flow cell."""
    flow_cell = await service.move_flow_cell(session, actor, flow_cell_id, body.to, body.reason, if_match)
    tag_version(response, flow_cell.id, flow_cell.version)
    return views.flow_cell_out(service.view_flow_cell(flow_cell, await service.read_settings(session, actor.tenant_id)))


# ---------------------------------------------------------------- libraries and pools


@router.get("/libraries", response_model=Page[LibraryOut])
async def list_libraries(session: ReadSession, actor: CanRead, paged: Paged) -> Page[LibraryOut]:
    """Libraries, newest first, with their samples, kit and barcode."""
    rows, cursor = await repository.page(session, Library, actor.tenant_id, paged.cursor, paged.limit)
    return Page(items=await views.libraries_out(session, rows), next_cursor=cursor)


@router.post("/libraries", response_model=LibraryOut, status_code=201)
async def create_library(body: LibraryIn, session: WriteSession, actor: CanWrite, once: Once) -> Response:
    """Make a library from one or more samples with a kit and a barcode from its set."""

    async def create() -> StoredResponse:
        library = await service.create_library(session, actor, body)
        (out,) = await views.libraries_out(session, [library])
        return _created(out.model_dump(mode="json"), once.location(library.id))

    return await once.respond(actor, create)


@router.get("/libraries/{library_id}", response_model=LibraryOut)
async def read_library(library_id: uuid.UUID, session: ReadSession, actor: CanRead) -> LibraryOut:
    """One library."""
    (out,) = await views.libraries_out(session, [await service.get_library(session, actor, library_id)])
    return out


@router.get("/pools", response_model=Page[PoolOut])
async def list_pools(session: ReadSession, actor: CanRead, paged: Paged) -> Page[PoolOut]:
    """Pools, newest first, with their libraries."""
    rows, cursor = await repository.page(session, Pool, actor.tenant_id, paged.cursor, paged.limit)
    return Page(items=await views.pools_out(session, rows), next_cursor=cursor)


@router.post("/pools/check", response_model=PoolCheckOut)
async def check_pool(body: PoolCheckIn, session: ReadSession, actor: CanRead) -> PoolCheckOut:
    """Would these libraries clash on one flow cell? Nothing is saved."""
    check = await service.check_pool(session, actor, body)
    return PoolCheckOut.model_validate({"ok": check.ok, "problems": check.problems})


@router.post("/pools", response_model=PoolOut, status_code=201)
async def create_pool(body: PoolIn, session: WriteSession, actor: CanWrite, once: Once) -> Response:
    """Pool libraries (existing ones, and new ones made with it); refused whole if any clash."""

    async def create() -> StoredResponse:
        pool = await service.create_pool(session, actor, body)
        (out,) = await views.pools_out(session, [pool])
        return _created(out.model_dump(mode="json"), once.location(pool.id))

    return await once.respond(actor, create)


@router.get("/pools/{pool_id}", response_model=PoolOut)
async def read_pool(pool_id: uuid.UUID, session: ReadSession, actor: CanRead) -> PoolOut:
    """One pool and its libraries."""
    (out,) = await views.pools_out(session, [await service.get_pool(session, actor, pool_id)])
    return out


# ---------------------------------------------------------------- runs


@router.get("/runs", response_model=Page[RunOut])
async def list_runs(session: ReadSession, actor: CanRead, wanted: RunList) -> Page[RunOut]:
    """Runs, newest first."""
    where: list[ColumnElement[bool]] = [Run.state.in_([state.value for state in wanted.state])] if wanted.state else []
    rows, cursor = await repository.page(session, Run, actor.tenant_id, wanted.cursor, wanted.limit, where=where)
    return Page(items=await views.runs_out(session, rows), next_cursor=cursor)


@router.post("/runs", response_model=RunOut, status_code=201)
async def plan_run(body: RunIn, session: WriteSession, actor: CanWrite, once: Once) -> Response:
    """Plan a run of a pool on a flow cell at an instrument position."""

    async def create() -> StoredResponse:
        run = await service.plan_run(session, actor, body)
        (out,) = await views.runs_out(session, [run])
        return _created(out.model_dump(mode="json"), once.location(run.id), make_etag(run.id, run.version))

    return await once.respond(actor, create)


@router.get("/runs/{run_id}", response_model=RunOut)
async def read_run(run_id: uuid.UUID, session: ReadSession, actor: CanRead, response: Response) -> RunOut:
    """One run with its parameters and, once imported, its figures."""
    run = await service.get_run(session, actor, run_id)
    tag_version(response, run.id, run.version)
    (out,) = await views.runs_out(session, [run])
    return out


@router.post("/runs/{run_id}/transitions", response_model=RunOut)
async def move_run(
    run_id: RunToMove,
    body: RunMoveIn,
    signature: Signature,
    session: WriteSession,
    actor: CanWrite,
    response: Response,
    if_match: IfMatch = None,
) -> RunOut:
    """Start, complete, fail or abort a run; its samples' states and steps follow."""
    run = await service.move_run(
        session, actor, run_id, body.to, reason=body.reason, signature=signature, if_match=if_match
    )
    tag_version(response, run.id, run.version)
    (out,) = await views.runs_out(session, [run])
    return out


@router.get("/runs/{run_id}/sample-sheet.csv", response_class=Response)
async def sample_sheet(run_id: uuid.UUID, session: ReadSession, actor: CanRead) -> Response:
    """The run's MinKNOW sample sheet (CSV)."""
    run, text = await service.sample_sheet(session, actor, run_id)
    return download(text, CSV, f"{run.experiment_id}_sample_sheet.csv")


@router.get("/runs/{run_id}/results", response_model=RunResultsOut)
async def read_results(run_id: uuid.UUID, session: ReadSession, actor: CanRead) -> RunResultsOut:
    """The run's per-barcode table; barcodes nobody pooled are listed as unknown."""
    run = await service.get_run(session, actor, run_id)
    table = await views.barcode_table(session, run)
    (out,) = await views.runs_out(session, [run])
    return RunResultsOut(run=out, barcodes=table, unknown_barcodes=[row.barcode for row in table if not row.known])


async def _read_upload(upload: UploadFile | None, field: str) -> bytes | None:
    if upload is None:
        return None
    data = await upload.read(MAX_REPORT_BYTES + 1)
    if len(data) > MAX_REPORT_BYTES:
        raise InvalidInput(
            f"{field} is larger than {MAX_REPORT_BYTES} bytes.", errors=[{"field": field, "message": "too large"}]
        )
    return data


@router.post("/runs/{run_id}/results", response_model=RunResultsOut)
async def import_results(
    run_id: RunToWrite,
    session: WriteSession,
    actor: CanWrite,
    final_summary: Annotated[UploadFile, File(description="MinKNOW's final_summary_*.txt")],
    sequencing_summary: Annotated[
        UploadFile | None, File(description="sequencing_summary_*.txt (tab-separated)")
    ] = None,
) -> RunResultsOut:
    """Import a run's summary files: per-run and per-barcode figures; its samples move to analysis."""
    imported = await service.import_results(
        session,
        actor,
        run_id,
        await _read_upload(final_summary, "final_summary") or b"",
        await _read_upload(sequencing_summary, "sequencing_summary"),
    )
    table = await views.barcode_table(session, imported.run)
    (out,) = await views.runs_out(session, [imported.run])
    return RunResultsOut(
        run=out,
        barcodes=table,
        unknown_barcodes=imported.unknown_barcodes,
        samples_moved_to_analysis=imported.samples_moved,
    )


# ---------------------------------------------------------------- lineage


@router.get("/samples/{sample_id}/lineage", response_model=LineageOut)
async def sample_lineage(sample_id: uuid.UUID, session: ReadSession, actor: CanRead) -> LineageOut:
    """A sample's libraries, pools, runs, flow cells and per-barcode yield."""
    return views.lineage_out(await service.lineage(session, actor, sample_id))
