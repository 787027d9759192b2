"""The storage API (DESIGN.md §8): thin routes over the storage service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from seqtrack.platform.deps import ReadSession, WriteSession
from seqtrack.platform.etag import make_etag
from seqtrack.platform.idempotency import StoredResponse, respond_once
from seqtrack.platform.responses import JsonBytes, plain_json
from seqtrack.storage import service
from seqtrack.storage.deps import (
    BoxToFill,
    CanConfigure,
    CanRead,
    CanTransitionSamples,
    CanWrite,
    ReservationToRelease,
)
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

IfMatch = Annotated[str | None, Header(description="The ETag you read; required on PATCH.")]
IdempotencyKeyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", description="Repeat a POST safely: the first answer comes back.")
]


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
    request: Request,
    container_id: BoxToFill,
    body: FillIn,
    session: WriteSession,
    actor: CanWrite,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Place these samples, in order, into the box's next free positions; all or none."""

    async def fill() -> StoredResponse:
        placed = await service.fill_box(session, actor, container_id, body)
        return StoredResponse(201, plain_json({"placed": placed}), {})

    return await respond_once(session, actor, request, idempotency_key, fill)


@router.post("/placements", response_model=PlacementOut, status_code=201)
async def place_sample(
    request: Request,
    body: PlacementIn,
    session: WriteSession,
    actor: CanWrite,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Put a sample into a free position; a taken position answers 409."""

    async def place() -> StoredResponse:
        return StoredResponse(201, plain_json(await service.place(session, actor, body)), {})

    return await respond_once(session, actor, request, idempotency_key, place)


@router.post("/moves", response_model=MovesOut)
async def move_samples(
    request: Request,
    body: MovesIn,
    session: WriteSession,
    actor: CanWrite,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Move one or many stored samples (up to 1,000) to other positions with a reason; all or none."""

    async def move() -> StoredResponse:
        moved = await service.move(session, actor, body.moves, body.reason)
        return StoredResponse(200, plain_json({"moved": moved}), {})

    return await respond_once(session, actor, request, idempotency_key, move)


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
async def reserve(
    request: Request,
    body: ReservationIn,
    session: WriteSession,
    actor: CanWrite,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Hold free positions for an incoming submission; the hold expires."""

    async def hold() -> StoredResponse:
        return StoredResponse(201, plain_json(await service.reserve(session, actor, body)), {})

    return await respond_once(session, actor, request, idempotency_key, hold)


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


@router.get("/settings", response_model=SettingsOut)
async def read_settings(session: ReadSession, actor: CanRead, response: Response) -> SettingsOut:
    """The facility's storage rules: sample types per zone, capacity warning levels, default hold times."""
    settings = await service.read_settings(session, actor.tenant_id)
    response.headers["ETag"] = make_etag(settings.tenant_id, settings.version)
    return SettingsOut.model_validate(settings)


@router.patch("/settings", response_model=SettingsOut)
async def update_settings(
    body: SettingsUpdate, session: WriteSession, actor: CanConfigure, response: Response, if_match: IfMatch = None
) -> SettingsOut:
    """Change the facility's storage rules (managers and admins)."""
    settings = await service.update_settings(session, actor, body, if_match)
    response.headers["ETag"] = make_etag(settings.tenant_id, settings.version)
    return SettingsOut.model_validate(settings)


@scan_router.get("/scan/{code}", response_model=ScanOut)
async def scan(code: str, session: ReadSession, actor: CanRead) -> Response:
    """Whatever a scanned code names: a sample (barcode or ID), a unit, a box or other container, a position."""
    return JsonBytes(await service.scan(session, actor, code))
