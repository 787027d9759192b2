"""The samples pages: the list staff work from, a sample's detail, and its actions.

Reads go through the samples repository and service exactly as the API's do;
each form opens its own unit of work around the service call, so a refusal is
rolled back before the page explains it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.audit import service as audit_service
from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission
from seqtrack.platform.database import Database
from seqtrack.platform.deps import DatabaseDep, ReadSession
from seqtrack.platform.errors import DomainError, PreconditionFailed
from seqtrack.platform.etag import make_etag
from seqtrack.samples import lifecycle, repository, service
from seqtrack.samples.deps import SamplePageQuery, sample_filter
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.schemas import (
    Priority,
    QcIn,
    QcKind,
    SampleType,
    SampleUpdate,
    SignatureMeaning,
    StepUpdate,
)
from seqtrack.samples.views import sample_document
from seqtrack.sequencing import service as sequencing_service
from seqtrack.sequencing import views as sequencing_views
from seqtrack.storage import service as storage_service
from seqtrack.web.forms import FormProblem, PageForm, Refusal, safe_next
from seqtrack.web.rendering import render
from seqtrack.web.signing import SignedMove

router = APIRouter(prefix="/samples", include_in_schema=False)

CanRead = Annotated[Actor, Depends(require(Permission.SAMPLES_READ))]
CanWrite = Annotated[Actor, Depends(require(Permission.SAMPLES_WRITE))]
CanTransition = Annotated[Actor, Depends(require(Permission.SAMPLES_TRANSITION))]
CanRecordQc = Annotated[Actor, Depends(require(Permission.QC_WRITE))]


@dataclass(frozen=True)
class Column:
    key: str
    title: str


COLUMNS: tuple[Column, ...] = (
    Column("human_id", "ID"),
    Column("name", "Name"),
    Column("status", "State"),
    Column("current_step", "Current step"),
    Column("priority", "Priority"),
    Column("sample_type", "Type"),
    Column("project", "Project"),
    Column("barcode", "Barcode"),
    Column("submitter_name", "Submitter"),
    Column("organism", "Organism"),
    Column("flow_cell_type", "Flow cell"),
    Column("concentration_ng_ul", "Conc. (ng/µl)"),
    Column("due_at", "Expected by"),
    Column("created_at", "Submitted"),
    Column("updated_at", "Last change"),
)
_COLUMN_KEYS = frozenset(column.key for column in COLUMNS)
STAFF_COLUMNS = ("human_id", "name", "status", "priority", "sample_type", "project", "due_at", "created_at")
# A submitter wants to know where their samples are and when to expect them.
SUBMITTER_COLUMNS = ("human_id", "name", "status", "current_step", "due_at", "created_at")
EDITABLE = (
    "name",
    "barcode",
    "project",
    "organism",
    "concentration_ng_ul",
    "volume_ul",
    "buffer",
    "flow_cell_type",
    "library_kit",
    "barcoding_kit",
    "billing_code",
    "data_location",
    "notes",
)


class PageQuery(SamplePageQuery):
    """The list API's filters, plus which columns this person chose to see."""

    columns: list[str] = Field(default_factory=list, max_length=len(COLUMNS))
    # How many samples the bulk move just before this page moved (post → redirect → get).
    moved: int | None = Field(None, ge=0, le=1000)


async def _page_query(request: Request) -> PageQuery:
    # An HTML form sends every field, the empty ones too: empty means "any".
    values: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if value != "":
            values.setdefault(key, []).append(value)
    repeated = {"status", "priority", "sample_type", "columns"}
    data = {key: found if key in repeated else found[-1] for key, found in values.items()}
    try:
        return PageQuery.model_validate(data)
    except ValidationError as error:
        raise RequestValidationError(
            [{**detail, "loc": ("query", *detail["loc"])} for detail in error.errors(include_url=False)]
        ) from error


@router.get("")
async def sample_list(
    request: Request, session: ReadSession, actor: CanRead, query: Annotated[PageQuery, Depends(_page_query)]
) -> Response:
    filters = sample_filter(query)
    rows, next_cursor = await repository.page(session, actor, filters, query.sort, query.cursor, query.limit)
    now = datetime.now(UTC)
    samples = [sample_document(row, now) for row in rows]
    chosen = [key for key in query.columns if key in _COLUMN_KEYS] or list(
        SUBMITTER_COLUMNS if actor.sees_only_own_labs else STAFF_COLUMNS
    )
    if "current_step" in chosen:
        steps = await repository.current_steps(session, [sample["id"] for sample in samples])
        for sample in samples:
            sample["current_step"] = steps.get(sample["id"])
    settings = await service.read_settings(session, actor.tenant_id)
    context = {
        "samples": samples,
        "next_cursor": next_cursor,
        "query": query,
        "columns": [column for key in chosen for column in COLUMNS if column.key == key],
        "all_columns": COLUMNS,
        "statuses": list(SampleStatus),
        "priorities": list(Priority),
        "sample_types": list(SampleType),
        "meanings": list(SignatureMeaning),
        "signed_transitions": settings.signed_transitions,
        "next_url": _with_cursor(request, next_cursor),
        "export_url": _export_url(request),
        "can_transition": actor.can(Permission.SAMPLES_TRANSITION),
        "can_export": actor.can(Permission.SAMPLES_EXPORT),
        "moved": query.moved,
    }
    template = "samples/_table.html" if request.headers.get("hx-request") else "samples/list.html"
    return render(request, template, context)


def _with_cursor(request: Request, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    kept = [
        (key, value)
        for key, value in request.query_params.multi_items()
        if key not in {"cursor", "moved"} and value != ""
    ]
    return f"{request.url.path}?{urlencode([*kept, ('cursor', cursor)])}"


def _export_url(request: Request) -> str:
    kept = [
        (key, value)
        for key, value in request.query_params.multi_items()
        if key not in {"cursor", "limit", "columns", "moved"} and value != ""
    ]
    return "/api/v1/samples/export.csv" + (f"?{urlencode(kept)}" if kept else "")


class SampleMove(SignedMove):
    to: SampleStatus


class BulkMove(SampleMove):
    sample_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    # The list page the move was made from, its filters kept.
    back: str = Field("/samples", max_length=2000)


@router.post("/transitions")
async def bulk_transition(
    request: Request, database: DatabaseDep, actor: CanTransition, move: Annotated[BulkMove, Form()]
) -> Response:
    signature = await move.signature(database, actor)
    try:
        async with database.write_session() as session:
            moved = await service.bulk_transition(
                session, actor, move.sample_ids, move.to, reason=move.why, signature=signature
            )
    except DomainError as error:
        return render(
            request,
            "samples/refused.html",
            {"problem": FormProblem.of(error), "refusals": error.extra.get("refusals") or [], "back": move.back},
            status_code=409,
        )
    target = safe_next(move.back, "/samples")
    kept = [(key, value) for key, value in parse_qsl(urlsplit(target).query) if key != "moved"]
    return RedirectResponse(f"{urlsplit(target).path}?{urlencode([*kept, ('moved', len(moved))])}", status_code=303)


@router.get("/{sample_id}")
async def sample_detail(
    request: Request,
    sample_id: uuid.UUID,
    session: ReadSession,
    actor: CanRead,
    as_of: datetime | None = None,
) -> Response:
    return await _detail_page(request, actor, sample_id, session, as_of=as_of)


async def _detail_page(
    request: Request,
    actor: Actor,
    sample_id: uuid.UUID,
    session: AsyncSession,
    refusal: Refusal | None = None,
    *,
    as_of: datetime | None = None,
    conflict: list[dict[str, Any]] | None = None,
) -> Response:
    record = await service.sample_record(session, actor, sample_id)
    sample = sample_document(record.row)
    past = None
    if as_of is not None:
        moment = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
        past = (await service.sample_as_of(session, actor, sample_id, moment)).model_dump()
        past["as_of"] = moment
    settings = await service.read_settings(session, actor.tenant_id)
    status = SampleStatus(sample["status"])
    held_from = SampleStatus(sample["held_from"]) if sample["held_from"] else None
    moves = [
        {
            "to": target,
            "signed": lifecycle.transition_name(status, target) in settings.signed_transitions,
            "needs_reason": target in lifecycle.NEEDS_REASON,
        }
        for target in lifecycle.allowed_targets(status, held_from)
    ]
    context = {
        "sample": sample,
        "past": past,
        "steps": record.steps,
        "qc": record.qc,
        "events": record.events,
        "audit": (
            await audit_service.entity_trail(session, actor.tenant_id, repository.AGGREGATE, sample_id)
            if actor.can(Permission.AUDIT_READ)
            else None
        ),
        "sequencing": (
            sequencing_views.lineage_out(await sequencing_service.lineage(session, actor, sample_id))
            if actor.can(Permission.SEQUENCING_READ)
            else None
        ),
        "storage": (
            await storage_service.custody(session, actor, sample_id) if actor.can(Permission.STORAGE_READ) else None
        ),
        "moves": moves,
        "meanings": list(SignatureMeaning),
        "editable": EDITABLE,
        "conflict": conflict,
        "submitted": refusal.form if refusal else {},
        "can_write": actor.can(Permission.SAMPLES_WRITE),
        "can_transition": actor.can(Permission.SAMPLES_TRANSITION),
        "can_record_qc": actor.can(Permission.QC_WRITE),
        "qc_kinds": list(QcKind),
        "step_statuses": ["in_progress", "completed", "failed", "skipped"],
    }
    return render(request, "samples/detail.html", context, refusal)


def _detail_form(permission: Permission) -> Any:
    """The sample page's forms, posted by whoever holds ``permission``; a refusal shows the page again."""

    async def page_form(
        request: Request, sample_id: uuid.UUID, database: DatabaseDep, actor: Actor = Depends(require(permission))
    ) -> PageForm:
        return PageForm(database, actor, partial(_detail_page, request, actor, sample_id))

    return Depends(page_form)


EditForm = Annotated[PageForm, _detail_form(Permission.SAMPLES_WRITE)]
MoveForm = Annotated[PageForm, _detail_form(Permission.SAMPLES_TRANSITION)]
QcForm = Annotated[PageForm, _detail_form(Permission.QC_WRITE)]


@router.post("/{sample_id}/edit")
async def edit_sample(request: Request, sample_id: uuid.UUID, page: EditForm) -> Response:
    form = await request.form()
    version = str(form.get("version", ""))
    submitted = {name: str(form.get(name, "")) for name in EDITABLE if name in form}
    # Only what the person changed is sent: an unchanged field never overwrites anyone.
    original = {name: str(form.get(f"original_{name}", "")) for name in submitted}
    changes: dict[str, Any] = {
        name: (value.strip() or None) for name, value in submitted.items() if value != original[name]
    }
    if not changes:
        return RedirectResponse(f"/samples/{sample_id}", status_code=303)
    try:
        body = SampleUpdate.model_validate(changes)
        async with page.database.write_session() as session:
            await service.update_sample(
                session, page.actor, sample_id, body, make_etag(sample_id, int(version) if version.isdigit() else -1)
            )
    except PreconditionFailed:
        return await _stale_edit(request, page.database, page.actor, sample_id, original, submitted)
    except (ValidationError, DomainError) as error:
        return await page.refuse(Refusal.of(error, 400, submitted))
    return RedirectResponse(f"/samples/{sample_id}", status_code=303)


async def _stale_edit(
    request: Request,
    database: Database,
    actor: Actor,
    sample_id: uuid.UUID,
    original: dict[str, str],
    submitted: dict[str, str],
) -> Response:
    """Someone changed the sample since this form was opened: show what, keep theirs, lose nothing typed."""
    async with database.read_session() as session:
        current = sample_document(await service.read_sample(session, actor, sample_id))
        conflict = [
            {"field": name, "was": original[name], "now": _shown(current.get(name)), "yours": submitted[name]}
            for name in submitted
            if _shown(current.get(name)) != original[name]
        ]
        problem = FormProblem(
            "Someone changed this sample after you opened it. Nothing was saved: "
            "check their changes below, then save again if yours still apply."
        )
        refusal = Refusal(problem, 409, submitted)
        return await _detail_page(request, actor, sample_id, session, refusal, conflict=conflict)


def _shown(value: Any) -> str:
    return "" if value is None else str(value)


@router.post("/{sample_id}/transition")
async def transition_sample(sample_id: uuid.UUID, page: MoveForm, move: Annotated[SampleMove, Form()]) -> Response:
    signature = await move.signature(page.database, page.actor)
    return await page.write(
        lambda session: service.transition(
            session, page.actor, sample_id, move.to, reason=move.why, signature=signature
        ),
        f"/samples/{sample_id}",
        status_code=400,
    )


@router.post("/{sample_id}/qc")
async def record_qc(
    sample_id: uuid.UUID,
    page: QcForm,
    kind: Annotated[str, Form(max_length=32)],
    value: Annotated[str, Form(max_length=32)],
    unit: Annotated[str, Form(max_length=16)] = "",
    instrument: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    async def work() -> str:
        body = QcIn.model_validate(
            {"kind": kind, "value": value.replace(",", "."), "unit": unit or None, "instrument": instrument or None}
        )
        async with page.database.write_session() as session:
            await service.record_qc(session, page.actor, sample_id, body, None)
        return f"/samples/{sample_id}#qc"

    return await page.submit(work, status_code=400)


@router.post("/{sample_id}/steps/{position}")
async def update_step(
    sample_id: uuid.UUID, position: int, page: EditForm, status: Annotated[str, Form(max_length=16)]
) -> Response:
    async def work() -> str:
        body = StepUpdate.model_validate({"status": status})
        async with page.database.write_session() as session:
            await service.update_step(session, page.actor, sample_id, position, body, None)
        return f"/samples/{sample_id}#steps"

    return await page.submit(work, status_code=400)
