"""The storage pages: the unit tree with occupancy, a box's grid, placing and moving by scan or click.

Reads and writes go through the storage service exactly as the API's do; each
form opens its own unit of work around the service call, so a refusal is
rolled back before the page explains it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission
from seqtrack.platform.deps import DatabaseDep, ReadSession
from seqtrack.platform.errors import NotFound
from seqtrack.storage import service
from seqtrack.storage.labels import SheetFormat
from seqtrack.storage.rules import ZONE_LABEL, Zone
from seqtrack.storage.schemas import MoveItem, PlacementIn
from seqtrack.web.forms import FormProblem, PageForm, Refusal, require_reason
from seqtrack.web.rendering import render

router = APIRouter(prefix="/storage", include_in_schema=False)

CanRead = Annotated[Actor, Depends(require(Permission.STORAGE_READ))]
CanWrite = Annotated[Actor, Depends(require(Permission.STORAGE_WRITE))]
Text = Annotated[str, Form(max_length=200)]


@router.get("")
async def storage_index(request: Request, session: ReadSession, actor: CanRead) -> Response:
    units = await service.unit_tree(session, actor)
    context = {
        "units": units,
        "zones": await service.zone_utilisation(session, actor.tenant_id),
        "zone_labels": {zone.value: ZONE_LABEL[zone] for zone in Zone},
        "late": await service.checkouts(session, actor, overdue=True),
        "formats": list(SheetFormat),
    }
    return render(request, "storage/index.html", context)


@router.get("/labels")
async def print_labels(
    session: ReadSession,
    actor: CanRead,
    codes: Annotated[str, Query(max_length=20_000)] = "",
    format: SheetFormat = SheetFormat.A4,  # the form field's public name
) -> Response:
    """Scanned or typed codes, one per line, to a PDF label sheet."""
    sample_ids = []
    for code in (line.strip() for line in codes.splitlines()):
        if code:
            found = await service.scan(session, actor, code)
            if found["kind"] == "sample":
                sample_ids.append(str(found["sample"]["id"]))
    query = urlencode({"sample_id": sample_ids, "format": format.value}, doseq=True)
    return RedirectResponse(f"/api/v1/labels/sheet.pdf?{query}", status_code=303)


@dataclass(frozen=True)
class BoxView:
    """Which box the page shows, and what it is about: a tube just scanned, one being moved, a place lit."""

    box_id: uuid.UUID
    tube: str | None = None
    move: uuid.UUID | None = None
    highlight: str | None = None


async def _box_page(
    request: Request, actor: Actor, view: BoxView, session: AsyncSession, refusal: Refusal | None = None
) -> Response:
    grid = await service.grid(session, actor, view.box_id)
    problem = refusal.problem if refusal else None
    chosen: dict[str, Any] | None = None
    tube, move = view.tube, view.move
    if tube:
        try:
            found = await service.scan(session, actor, tube)
        except NotFound:
            found = None
        if found is None or found["kind"] != "sample":
            problem = problem or FormProblem(
                f"{tube!r} is not a tube's barcode or sample ID here.", {"tube": "unknown"}
            )
        else:
            chosen = {"sample": found["sample"], "placement": found["placement"]}
    moving = None
    if move is not None:
        moving = next((cell for cell in grid["cells"] if cell["sample"] and cell["sample"]["id"] == move), None)
    width = grid["container"]["columns"]
    rows = [grid["cells"][start : start + width] for start in range(0, len(grid["cells"]), width)]
    context = {
        "grid": grid,
        "rows": rows,
        "zone_label": ZONE_LABEL[Zone(grid["zone"])],
        "chosen": chosen,
        "moving": moving,
        "highlight": (view.highlight or "").upper(),
        "problem": problem,
        "can_write": actor.can(Permission.STORAGE_WRITE),
        "formats": list(SheetFormat),
        "done": request.query_params.get("done"),
    }
    return render(request, "storage/box.html", context, refusal)


@router.get("/boxes/{box_id}")
async def box_page(
    request: Request,
    box_id: uuid.UUID,
    session: ReadSession,
    actor: CanRead,
    tube: Annotated[str | None, Query(max_length=200)] = None,
    move: uuid.UUID | None = None,
    highlight: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    return await _box_page(request, actor, BoxView(box_id, tube, move, highlight), session)


@router.post("/boxes/{box_id}/place")
async def place_in_box(
    request: Request,
    box_id: uuid.UUID,
    database: DatabaseDep,
    actor: CanWrite,
    tube: Text,
    position: Text,
) -> Response:
    async def work() -> str:
        async with database.write_session() as session:
            found = await service.scan(session, actor, tube)
            if found["kind"] != "sample":
                raise NotFound(f"{tube!r} is not a tube.")
            container_id, name = await service.position_from_scan(session, actor, position, box_id)
            await service.place(
                session,
                actor,
                PlacementIn(sample_id=found["sample"]["id"], container_id=container_id, position=name),
            )
        return _shown_at(container_id, name, "placed")

    page = PageForm(database, actor, partial(_box_page, request, actor, BoxView(box_id, tube=tube)))
    return await page.submit(work, status_code=400)


@router.post("/boxes/{box_id}/move")
async def move_in_box(
    request: Request,
    box_id: uuid.UUID,
    database: DatabaseDep,
    actor: CanWrite,
    sample_id: Annotated[uuid.UUID, Form()],
    position: Text,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    async def work() -> str:
        require_reason(reason, "Say why the tube moves; the chain of custody keeps it.")
        async with database.write_session() as session:
            container_id, name = await service.position_from_scan(session, actor, position, box_id)
            await service.move(
                session, actor, [MoveItem(sample_id=sample_id, container_id=container_id, position=name)], reason
            )
        return _shown_at(container_id, name, "moved")

    page = PageForm(database, actor, partial(_box_page, request, actor, BoxView(box_id, move=sample_id)))
    return await page.submit(work, status_code=400)


def _shown_at(container_id: uuid.UUID, position: str, done: str) -> str:
    """The box the tube is now in, its new place lit."""
    return f"/storage/boxes/{container_id}?highlight={position}&done={done}"
