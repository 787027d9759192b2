"""The sequencing pages: flow cell inventory, the pool builder, run planning and the run page.

Reads go through the sequencing repository, service and views exactly as the
API's do; each form opens its own unit of work around the service call, so a
refusal is rolled back before the page explains it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission
from seqtrack.platform.deps import DatabaseDep, ReadSession
from seqtrack.platform.errors import DomainError
from seqtrack.samples import repository as samples_repository
from seqtrack.samples.repository import SampleFilter
from seqtrack.samples.schemas import SignatureMeaning
from seqtrack.sequencing import catalog, service, views
from seqtrack.sequencing.lifecycle import RUN_MOVES, FlowCellState, RunState
from seqtrack.sequencing.schemas import FlowCellIn, InstrumentIn, PoolCheckIn, PoolIn, RunIn
from seqtrack.web.forms import FormProblem, PageForm, Refusal, form_page
from seqtrack.web.rendering import render
from seqtrack.web.signing import SignedMove

router = APIRouter(prefix="/sequencing", include_in_schema=False)

READ, WRITE = Permission.SEQUENCING_READ, Permission.SEQUENCING_WRITE
CanRead = Annotated[Actor, Depends(require(READ))]
CanWrite = Annotated[Actor, Depends(require(WRITE))]

PAGE = 200
BUILDER_ROWS = 6


# Two forms as typed, every box text: the flow-cell receipt is shown again as it was if refused.
class FlowCellReceipt(BaseModel):
    serial: str = Field("", max_length=64)
    product_code: str = Field("", max_length=32)
    lot: str = Field("", max_length=64)
    expiry_date: str = Field("", max_length=20)


class InstrumentRegistration(BaseModel):
    name: str = Field("", max_length=100)
    model: str = Field("", max_length=32)
    serial: str = Field("", max_length=64)


# ---------------------------------------------------------------- flow cells


async def _flow_cell_page(
    request: Request, actor: Actor, session: AsyncSession, refusal: Refusal | None = None
) -> Response:
    settings = await service.read_settings(session, actor.tenant_id)
    rows = await service.newest_flow_cells(session, actor, PAGE)
    cells = [views.flow_cell_out(service.view_flow_cell(row, settings)) for row in rows]
    context = {
        "cells": cells,
        "product_codes": list(catalog.FLOW_CELL_TYPES.values()),
        "can_write": actor.can(Permission.SEQUENCING_WRITE),
        "manual_targets": ["washed", "spent", "returned"],
        "submitted": refusal.form if refusal else {},
    }
    return render(request, "sequencing/flow_cells.html", context, refusal)


FlowCellForm = Annotated[PageForm, form_page(router, "/flow-cells", _flow_cell_page, read=READ, write=WRITE)]


@router.post("/flow-cells")
async def receive_flow_cell(page: FlowCellForm, typed: Annotated[FlowCellReceipt, Form()]) -> Response:
    submitted = typed.model_dump()

    async def work() -> str:
        body = FlowCellIn.model_validate({key: value for key, value in submitted.items() if value.strip()})
        async with page.database.write_session() as session:
            await service.receive_flow_cell(session, page.actor, body)
        return "/sequencing/flow-cells"

    return await page.submit(work, form=submitted)


@router.post("/flow-cells/{flow_cell_id}/check")
async def check_flow_cell(
    flow_cell_id: uuid.UUID, page: FlowCellForm, pore_count: Annotated[int, Form(ge=0, le=20_000)]
) -> Response:
    return await page.write(
        lambda session: service.check_flow_cell(session, page.actor, flow_cell_id, pore_count, None),
        "/sequencing/flow-cells",
    )


@router.post("/flow-cells/{flow_cell_id}/transition")
async def move_flow_cell(
    flow_cell_id: uuid.UUID,
    page: FlowCellForm,
    to: Annotated[FlowCellState, Form()],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return await page.write(
        lambda session: service.move_flow_cell(session, page.actor, flow_cell_id, to, reason.strip() or None, None),
        "/sequencing/flow-cells",
    )


# ---------------------------------------------------------------- pools


async def _ready_samples(session: AsyncSession, actor: Actor) -> list[Any]:
    rows, _cursor = await samples_repository.page(
        session, actor, SampleFilter(status=["library_prep", "sequencing"]), "human_id", None, PAGE
    )
    return rows


async def _pool_page(
    request: Request,
    actor: Actor,
    session: AsyncSession,
    refusal: Refusal | None = None,
    *,
    problems: list[dict[str, Any]] | None = None,
    checked: bool = False,
    form: Mapping[str, Any] | None = None,
) -> Response:
    rows = await service.newest_pools(session, actor, PAGE)
    context = {
        "pools": await views.pools_out(session, rows),
        "samples": await _ready_samples(session, actor),
        "kits": list(catalog.KITS.values()),
        "rows": range(BUILDER_ROWS),
        "form": form or (refusal.form if refusal else {}),
        "problems": problems or [],
        "checked": checked,
        "created": request.query_params.get("created"),
        "can_write": actor.can(Permission.SEQUENCING_WRITE),
    }
    template = "sequencing/_pool_check.html" if request.headers.get("hx-request") else "sequencing/pools.html"
    return render(request, template, context, refusal)


def _builder_libraries(form: dict[str, Any]) -> list[dict[str, Any]]:
    """The builder's filled rows as library bodies (a row without a name or sample is left out)."""
    libraries = []
    for index in range(BUILDER_ROWS):
        name = str(form.get(f"name_{index}", "")).strip()
        samples = [value for value in form.get(f"samples_{index}", []) if value]
        if not name and not samples:
            continue
        library: dict[str, Any] = {"name": name, "kit": form.get(f"kit_{index}", ""), "sample_ids": samples}
        barcode = str(form.get(f"barcode_{index}", "")).strip()
        if barcode:
            library["barcode"] = barcode
        libraries.append(library)
    return libraries


PoolForm = Annotated[PageForm, form_page(router, "/pools", _pool_page, read=READ, write=WRITE)]


@router.post("/pools")
async def build_pool(request: Request, page: PoolForm) -> Response:
    """Check the pool (nothing saved) or save it; clashes are shown either way, naming the libraries."""
    raw = await request.form()
    form: dict[str, Any] = {key: raw.get(key) for key in raw if not key.startswith("samples_")}
    for index in range(BUILDER_ROWS):
        form[f"samples_{index}"] = [str(value) for value in raw.getlist(f"samples_{index}")]
    libraries = _builder_libraries(form)
    saving = form.get("action") == "save"
    database, actor = page.database, page.actor
    try:
        if not saving:
            body = PoolCheckIn.model_validate({"libraries": libraries})
            async with database.read_session() as session:
                check = await service.check_pool(session, actor, body)
                # A check that finds clashes has done its job: 200, so htmx swaps the answer in.
                return await _pool_page(request, actor, session, problems=check.problems, checked=True, form=form)
        pool_body = PoolIn.model_validate({"name": str(form.get("pool_name", "")).strip(), "libraries": libraries})
        async with database.write_session() as session:
            pool = await service.create_pool(session, actor, pool_body)
            name = pool.name
    except ValidationError as error:
        return await page.refuse(Refusal(_validation_problem(error), form=form))
    except DomainError as error:
        clashes = partial(_pool_page, request, actor, problems=error.extra.get("problems") or [])
        return await PageForm(database, actor, clashes).refuse(Refusal.of(error, form=form))
    return RedirectResponse(f"/sequencing/pools?created={name}", status_code=303)


def _validation_problem(error: ValidationError) -> FormProblem:
    fields = {
        ".".join(str(part) for part in detail["loc"]): detail["msg"] for detail in error.errors(include_url=False)
    }
    return FormProblem("Some fields need attention.", fields)


# ---------------------------------------------------------------- runs


async def _run_list_page(
    request: Request, actor: Actor, session: AsyncSession, refusal: Refusal | None = None
) -> Response:
    run_rows = await service.newest_runs(session, actor, PAGE)
    instruments = await service.newest_instruments(session, actor, PAGE)
    loadable = await service.newest_flow_cells(session, actor, PAGE, loadable_only=True)
    pool_rows = await service.newest_pools(session, actor, PAGE)
    busy = await service.busy_positions(session, instruments)
    context = {
        "runs": await views.runs_out(session, run_rows),
        "instruments": [views.instrument_out(row, busy) for row in instruments],
        "flow_cells": loadable,
        "pools": pool_rows,
        "models": list(catalog.INSTRUMENT_MODELS.values()),
        "form": refusal.form if refusal else {},
        "can_write": actor.can(Permission.SEQUENCING_WRITE),
    }
    return render(request, "sequencing/runs.html", context, refusal)


RunListForm = Annotated[PageForm, form_page(router, "/runs", _run_list_page, read=READ, write=WRITE)]


@router.post("/instruments")
async def register_instrument(page: RunListForm, typed: Annotated[InstrumentRegistration, Form()]) -> Response:
    try:
        body = InstrumentIn.model_validate({**typed.model_dump(), "serial": typed.serial.strip() or None})
    except ValidationError as error:
        return await page.refuse(Refusal(_validation_problem(error)))
    return await page.write(lambda session: service.register_instrument(session, page.actor, body), "/sequencing/runs")


@router.post("/runs")
async def plan_run(request: Request, page: RunListForm) -> Response:
    raw = await request.form()
    form = {key: str(raw.get(key) or "") for key in raw}
    fields = ("experiment_id", "instrument_id", "position", "flow_cell_id", "pool_id", "basecalling_model")
    body: dict[str, Any] = {name: form.get(name, "").strip() for name in fields if form.get(name, "").strip()}
    for name in ("run_length_hours", "min_read_length"):
        if form.get(name, "").strip():
            body[name] = form[name].strip()
    try:
        run_body = RunIn.model_validate(body)
        async with page.database.write_session() as session:
            run = await service.plan_run(session, page.actor, run_body)
            run_id = run.id
    except ValidationError as error:
        return await page.refuse(Refusal(_validation_problem(error), form=form))
    except DomainError as error:
        return await page.refuse(Refusal(_with_problems(error), form=form))
    return RedirectResponse(f"/sequencing/runs/{run_id}", status_code=303)


def _with_problems(error: DomainError) -> FormProblem:
    problem = FormProblem.of(error)
    for index, item in enumerate(error.extra.get("problems") or []):
        message = item.get("message") if isinstance(item, dict) else str(item)
        problem.fields[f"problem {index + 1}"] = str(message)
    return problem


@router.get("/runs/{run_id}")
async def run_page(request: Request, run_id: uuid.UUID, session: ReadSession, actor: CanRead) -> Response:
    return await _run_page(request, actor, run_id, session)


async def _run_page(
    request: Request, actor: Actor, run_id: uuid.UUID, session: AsyncSession, refusal: Refusal | None = None
) -> Response:
    run = await service.get_run(session, actor, run_id)
    (out,) = await views.runs_out(session, [run])
    (pool,) = await views.pools_out(session, [await service.get_pool(session, actor, run.pool_id)])
    context = {
        "run": out,
        "pool": pool,
        "barcodes": await views.barcode_table(session, run),
        "moves": list(RUN_MOVES[RunState(run.state)]),
        "meanings": list(SignatureMeaning),
        "can_write": actor.can(Permission.SEQUENCING_WRITE),
    }
    return render(request, "sequencing/run.html", context, refusal)


class RunMove(SignedMove):
    to: RunState


@router.post("/runs/{run_id}/transition")
async def move_run(
    request: Request, run_id: uuid.UUID, database: DatabaseDep, actor: CanWrite, move: Annotated[RunMove, Form()]
) -> Response:
    signature = await move.signature(database, actor)
    page = PageForm(database, actor, partial(_run_page, request, actor, run_id))
    return await page.write(
        lambda session: service.move_run(session, actor, run_id, move.to, reason=move.why, signature=signature),
        f"/sequencing/runs/{run_id}",
    )
