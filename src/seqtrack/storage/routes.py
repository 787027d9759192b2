"""The storage API (docs/api.md): thin routes over the storage service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity.actor import Actor
from seqtrack.platform.deps import ReadSession, WriteSession
from seqtrack.platform.etag import make_etag
from seqtrack.platform.idempotency import Once
from seqtrack.platform.responses import CSV, PDF, XLSX, JsonBytes, download
from seqtrack.platform.settings_routes import SettingsDocs, facility_settings_routes
from seqtrack.storage import labels, service
from seqtrack.storage.deps import (
    SETTINGS_ACCESS,
    BoxToWrite,
    CanRead,
    CanTransitionSamples,
    CanWrite,
    ReservationToRelease,
)
from seqtrack.storage.errors import InvalidStorageInput
from seqtrack.storage.labels import Label, SheetFormat, Symbology
from seqtrack.storage.rules import Zone
from seqtrack.storage.schemas import (
    CapacityOut,
    CheckInIn,
    CheckOutIn,
    CheckOutList,
    ContainerCreate,
    ContainerOut,
    CustodyOut,
    FillIn,
    FreePositionsOut,
    GridOut,
    MovesIn,
    MovesOut,
    PlacementIn,
    PlacementOut,
    PlacementsOut,
    RackScanApplied,
    RackScanPreview,
    ReleaseIn,
    RemovalIn,
    ReservationIn,
    ReservationOut,
    ScanOut,
    SettingsOut,
    SettingsUpdate,
    UnitCreate,
    UnitList,
    UnitOut,
    WhereOut,
)

router = APIRouter(prefix="/storage", tags=["storage"])
scan_router = APIRouter(tags=["storage"])


@router.get("/units", response_model=UnitList)
async def list_units(session: ReadSession, actor: CanRead) -> Response:
    """Every storage unit with its containers nested and occupancy rolled up at each level."""
    return JsonBytes({"items": await service.unit_tree(session, actor)})


@router.post("/units", response_model=UnitOut, status_code=201)
async def create_unit(body: UnitCreate, session: WriteSession, actor: CanWrite) -> Response:
    """Add a freezer, fridge, LN2 dewar, cabinet or room with its temperature zone."""
    unit = await service.create_unit(session, actor, body)
    document = (await service.unit_tree(session, actor, unit.id))[0]
    return JsonBytes(document, status_code=201, headers={"ETag": make_etag(unit.id, unit.version)})


@router.get("/units/{unit_id}", response_model=UnitOut)
async def read_unit(unit_id: uuid.UUID, session: ReadSession, actor: CanRead) -> Response:
    """One unit with its container tree and counts."""
    return JsonBytes((await service.unit_tree(session, actor, unit_id))[0])


@router.post("/containers", response_model=ContainerOut, status_code=201)
async def create_container(body: ContainerCreate, session: WriteSession, actor: CanWrite) -> Response:
    """Add a shelf, rack or drawer, or a box or plate with its grid, inside a unit or another container."""
    container = await service.create_container(session, actor, body)
    document = await service.read_container(session, actor, container.id)
    return JsonBytes(document, status_code=201, headers={"ETag": make_etag(container.id, container.version)})


@router.get("/containers/{container_id}", response_model=ContainerOut)
async def read_container(container_id: uuid.UUID, session: ReadSession, actor: CanRead) -> Response:
    """One container with its path from the unit down."""
    return JsonBytes(await service.read_container(session, actor, container_id))


@router.get("/boxes/{container_id}/grid", response_model=GridOut)
async def box_grid(container_id: uuid.UUID, session: ReadSession, actor: CanRead) -> Response:
    """A box or plate position by position, with the sample in each, reservations and check-outs."""
    return JsonBytes(await service.grid(session, actor, container_id))


@router.post("/boxes/{container_id}/fill", response_model=PlacementsOut, status_code=201)
async def fill_box(
    container_id: BoxToWrite, body: FillIn, session: WriteSession, actor: CanWrite, once: Once
) -> Response:
    """Place these samples, in order, into the box's next free positions; all or none."""

    async def fill() -> dict[str, Any]:
        return {"placed": await service.fill_box(session, actor, container_id, body)}

    return await once.answer(actor, 201, fill)


_RACK_SCAN_BODY = {
    "requestBody": {
        "required": True,
        "description": "The rack reader's CSV (position, tube barcode), as the body or as the form field 'file'.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
        },
    }
}


async def _uploaded(request: Request) -> bytes:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidStorageInput(
                "Attach the rack reader's CSV as the form field 'file'.",
                errors=[{"field": "file", "message": "missing"}],
            )
        return await upload.read()
    return await request.body()


@router.post("/boxes/{container_id}/rack-scans", response_model=RackScanPreview, openapi_extra=_RACK_SCAN_BODY)
async def preview_rack_scan(
    request: Request, container_id: BoxToWrite, session: WriteSession, actor: CanWrite
) -> Response:
    """Compare a rack reader's CSV with the box: every mismatch listed, nothing changed."""
    content = await _uploaded(request)
    return JsonBytes(await service.preview_rack_scan(session, actor, container_id, content))


@router.post("/boxes/{container_id}/rack-scans/confirm", response_model=RackScanApplied, openapi_extra=_RACK_SCAN_BODY)
async def confirm_rack_scan(
    request: Request,
    container_id: BoxToWrite,
    session: WriteSession,
    actor: CanWrite,
    token: str = Query(min_length=1, max_length=64, description="The preview's token."),
) -> Response:
    """Apply a previewed rack scan: tubes placed, moved and removed to match what the reader saw."""
    content = await _uploaded(request)
    return JsonBytes(await service.confirm_rack_scan(session, actor, container_id, content, token))


@router.post("/placements", response_model=PlacementOut, status_code=201)
async def place_sample(body: PlacementIn, session: WriteSession, actor: CanWrite, once: Once) -> Response:
    """Put a sample into a free position; a taken position answers 409."""
    return await once.answer(actor, 201, lambda: service.place(session, actor, body))


@router.post("/moves", response_model=MovesOut)
async def move_samples(body: MovesIn, session: WriteSession, actor: CanWrite, once: Once) -> Response:
    """Move one or many stored samples (up to 1,000) to other positions with a reason; all or none."""

    async def move() -> dict[str, Any]:
        return {"moved": await service.move(session, actor, body.moves, body.reason)}

    return await once.answer(actor, 200, move)


@router.post("/removals", response_model=PlacementOut)
async def remove_sample(body: RemovalIn, session: WriteSession, actor: CanWrite) -> Response:
    """Take a sample out of storage with a reason; answers where it was."""
    return JsonBytes(await service.remove(session, actor, body.sample_id, body.reason))


@router.post("/disposals", response_model=PlacementOut | None)
async def dispose_sample(
    body: RemovalIn, session: WriteSession, actor: CanWrite, _samples: CanTransitionSamples
) -> Response:
    """Dispose of a sample: it becomes disposed and its position is freed; answers where it was."""
    return JsonBytes(await service.dispose(session, actor, body.sample_id, body.reason))


@router.get("/checkouts", response_model=CheckOutList)
async def list_checkouts(session: ReadSession, actor: CanRead, overdue: bool | None = None) -> Response:
    """Samples taken out for work, who has each since when, soonest due first."""
    return JsonBytes({"items": await service.checkouts(session, actor, overdue)})


@router.post("/checkouts", response_model=PlacementOut, status_code=201)
async def check_out(body: CheckOutIn, session: WriteSession, actor: CanWrite) -> Response:
    """Take a sample out for work; its position stays reserved for it."""
    return JsonBytes(await service.check_out(session, actor, body), status_code=201)


@router.post("/checkins", response_model=PlacementOut)
async def check_in(body: CheckInIn, session: WriteSession, actor: CanWrite) -> Response:
    """Put a checked-out sample back into its position."""
    return JsonBytes(await service.check_in(session, actor, body.sample_id))


@router.get("/samples/{sample_id}/custody", response_model=CustodyOut)
async def chain_of_custody(sample_id: uuid.UUID, session: ReadSession, actor: CanRead) -> Response:
    """Every place a sample has been, who moved it, when and why, oldest first."""
    return JsonBytes(await service.custody(session, actor, sample_id))


@router.get("/where", response_model=WhereOut)
async def where_is(
    session: ReadSession,
    actor: CanRead,
    q: str = Query(min_length=1, max_length=200, description="A sample ID, barcode or part of a name."),
) -> Response:
    """Where is it: matching samples with their current positions."""
    return JsonBytes({"items": await service.where_is(session, actor, q)})


@router.get("/free-positions", response_model=FreePositionsOut)
async def free_positions(
    session: ReadSession,
    actor: CanRead,
    count: int = Query(1, ge=1, le=1000),
    zone: Zone | None = None,
    container_id: uuid.UUID | None = None,
    contiguous: bool = Query(False, description="All in one box, one after another (row by row)."),
) -> Response:
    """The first free positions in a zone or one box, consecutive if asked."""
    items = await service.free_positions(
        session, actor, count=count, zone=zone, container_id=container_id, contiguous=contiguous
    )
    return JsonBytes({"items": items})


@router.get("/capacity", response_model=CapacityOut)
async def capacity(session: ReadSession, actor: CanRead) -> Response:
    """Positions, used and free per temperature zone."""
    return JsonBytes({"zones": await service.zone_utilisation(session, actor.tenant_id)})


@router.post("/reservations", response_model=ReservationOut, status_code=201)
async def reserve(body: ReservationIn, session: WriteSession, actor: CanWrite, once: Once) -> Response:
    """Hold free positions for an incoming submission; the hold expires."""
    return await once.answer(actor, 201, lambda: service.reserve(session, actor, body))


@router.get("/reservations/{reservation_id}", response_model=ReservationOut)
async def read_reservation(reservation_id: uuid.UUID, session: ReadSession, actor: CanRead) -> Response:
    """A reservation and the positions it still holds."""
    return JsonBytes(await service.read_reservation(session, actor, reservation_id))


@router.post("/reservations/{reservation_id}/release", response_model=ReservationOut)
async def release(
    reservation_id: ReservationToRelease, body: ReleaseIn, session: WriteSession, actor: CanWrite
) -> Response:
    """Give back the positions a reservation holds."""
    return JsonBytes(await service.release_reservation(session, actor, reservation_id, body.reason))


_SETTINGS_DOCS = SettingsDocs(
    read="The facility's storage rules: sample types per zone, capacity warning levels, default hold times.",
    update="Change the facility's storage rules (managers and admins).",
)
facility_settings_routes(router, service, SettingsOut, SettingsUpdate, access=SETTINGS_ACCESS, docs=_SETTINGS_DOCS)


@scan_router.get("/scan/{code}", response_model=ScanOut)
async def scan(code: str, session: ReadSession, actor: CanRead) -> Response:
    """Whatever a scanned code names: a sample (barcode or ID), a unit, a box or other container, a position."""
    return JsonBytes(await service.scan(session, actor, code))


labels_router = APIRouter(prefix="/labels", tags=["labels"])
ImageFormat = Literal["svg", "png"]
_MEDIA = {"svg": "image/svg+xml", "png": "image/png"}


@dataclass(frozen=True)
class LabelImage:
    """The image of a label's code that the request asks for: its file type (from the path) and symbology."""

    image_format: ImageFormat
    symbology: Symbology

    def of(self, label: Label) -> Response:
        return Response(
            labels.symbol(label.payload, self.symbology, self.image_format),
            media_type=_MEDIA[self.image_format],
            headers={"X-Label-Payload": label.payload},
        )


def _label_image(
    image_format: ImageFormat,
    symbology: Annotated[Symbology, Query(description="code128 (handheld scanners) or qr.")] = Symbology.CODE128,
) -> LabelImage:
    return LabelImage(image_format, symbology)


WantedImage = Annotated[LabelImage, Depends(_label_image)]


@labels_router.get("/samples/{sample_id}.{image_format}", response_class=Response)
async def sample_symbol(sample_id: uuid.UUID, image: WantedImage, session: ReadSession, actor: CanRead) -> Response:
    """A sample's code (its barcode, or its ID when it has none) as an SVG or PNG image."""
    return image.of(await service.sample_label(session, actor, sample_id))


@labels_router.get("/containers/{container_id}.{image_format}", response_class=Response)
async def container_symbol(
    container_id: uuid.UUID, image: WantedImage, session: ReadSession, actor: CanRead
) -> Response:
    """A box's, rack's or shelf's code as an SVG or PNG image."""
    return image.of(await service.container_label(session, actor, container_id))


@labels_router.get("/positions/{container_id}/{position}.{image_format}", response_class=Response)
async def position_symbol(
    container_id: uuid.UUID, position: str, image: WantedImage, session: ReadSession, actor: CanRead
) -> Response:
    """A position's code (box code and position, e.g. BX-…-A1) as an SVG or PNG image."""
    return image.of(await service.position_label(session, actor, container_id, position))


class LabelsWanted(BaseModel):
    """The labels a sheet prints: the samples named, then those in the box named."""

    sample_ids: list[uuid.UUID] = Field([], alias="sample_id", max_length=1000)
    box_id: uuid.UUID | None = None


LabelsQuery = Annotated[LabelsWanted, Query()]


async def _sheet_labels(session: AsyncSession, actor: Actor, wanted: LabelsWanted) -> list[Label]:
    if wanted.box_id is None and not wanted.sample_ids:
        raise InvalidStorageInput(
            "Name the samples (sample_id, repeated) or a box (box_id) to print labels for.",
            errors=[{"field": "sample_id", "location": "query", "message": "give sample_id or box_id"}],
        )
    found = await service.sample_labels(session, actor, wanted.sample_ids) if wanted.sample_ids else []
    return found + (await service.box_labels(session, actor, wanted.box_id) if wanted.box_id is not None else [])


@labels_router.get("/sheet.pdf", response_class=Response)
async def label_sheet(
    session: ReadSession,
    actor: CanRead,
    wanted: LabelsQuery,
    format: SheetFormat = SheetFormat.A4,  # the query parameter's public name
) -> Response:
    """A PDF of labels for samples or a box: 2 × 1 inch thermal labels, or A4 / Letter sheets."""
    document = labels.pdf_sheet(await _sheet_labels(session, actor, wanted), format)
    return download(document, PDF, f"labels-{format.value}.pdf", inline=True)


@labels_router.get("/sheet.zpl", response_class=Response)
async def label_zpl(session: ReadSession, actor: CanRead, wanted: LabelsQuery) -> Response:
    """ZPL II for Zebra thermal printers (2 × 1 inch, 203 dpi): one label per sample."""
    return Response(labels.zpl(await _sheet_labels(session, actor, wanted)), media_type="text/plain")


@router.get("/boxes/{container_id}/map.csv", response_class=Response)
async def box_map_csv(container_id: uuid.UUID, session: ReadSession, actor: CanRead) -> Response:
    """The box's positions and occupants as CSV, to print and tape to the box."""
    shown = await service.grid(session, actor, container_id)
    return download(labels.box_map_csv(shown["cells"]), CSV, f"{shown['container']['code']}.csv")


@router.get("/boxes/{container_id}/map.xlsx", response_class=Response)
async def box_map_xlsx(container_id: uuid.UUID, session: ReadSession, actor: CanRead) -> Response:
    """The box as a printable map (rows × columns) and as a list, in one workbook."""
    shown = await service.grid(session, actor, container_id)
    container = shown["container"]
    sheet = labels.box_map_xlsx(container["path"], container["rows"], container["columns"], shown["cells"])
    return download(sheet, XLSX, f"{container['code']}.xlsx")
