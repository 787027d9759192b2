"""The samples API (docs/api.md): thin routes over the samples service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import StreamingResponse

from seqtrack.events.history import PastEvent
from seqtrack.platform.deps import DatabaseDep, IfMatch, ReadSession, WriteSession
from seqtrack.platform.etag import make_etag
from seqtrack.platform.idempotency import Once, StoredResponse
from seqtrack.platform.pagination import Page
from seqtrack.platform.responses import CSV, JsonBytes, plain_json, streamed_download
from seqtrack.platform.settings_routes import SettingsDocs, facility_settings_routes
from seqtrack.samples import export, repository, service
from seqtrack.samples.deps import (
    SETTINGS_ACCESS,
    CanExport,
    CanRead,
    CanRecordQc,
    CanTransition,
    CanWrite,
    ExportRequest,
    ListRequest,
    SampleToMeasure,
    SampleToTransition,
    SampleToWrite,
    Signature,
)
from seqtrack.samples.models import Sample
from seqtrack.samples.repository import SampleRow
from seqtrack.samples.schemas import (
    BulkTransitionIn,
    BulkTransitionOut,
    QcIn,
    QcOut,
    SampleCreate,
    SampleOut,
    SampleUpdate,
    SettingsOut,
    SettingsUpdate,
    StepOut,
    StepUpdate,
    TransitionIn,
)
from seqtrack.samples.views import sample_document

router = APIRouter(prefix="/samples", tags=["samples"])


def _etag_header(sample: Sample | SampleRow) -> dict[str, str]:
    return {"ETag": make_etag(sample.id, sample.version)}


@router.get("", response_model=Page[SampleOut])
async def list_samples(session: ReadSession, actor: CanRead, wanted: ListRequest) -> Response:
    """Samples matching the filters, one keyset page at a time."""
    rows, next_cursor = await repository.page(session, actor, wanted.filters, wanted.sort, wanted.cursor, wanted.limit)
    now = datetime.now(UTC)
    return JsonBytes({"items": [sample_document(row, now) for row in rows], "next_cursor": next_cursor})


@router.post("", response_model=SampleOut, status_code=201)
async def create_sample(body: SampleCreate, session: WriteSession, actor: CanWrite, once: Once) -> Response:
    """Register a sample; it starts as submitted with the tenant's processing steps."""

    async def create() -> StoredResponse:
        sample = await service.create_sample(session, actor, body)
        headers = {**_etag_header(sample), "Location": once.location(sample.id)}
        return StoredResponse(201, plain_json(sample_document(sample)), headers)

    return await once.respond(actor, create)


@router.get("/export.csv", response_class=StreamingResponse)
async def export_samples(database: DatabaseDep, actor: CanExport, wanted: ExportRequest) -> StreamingResponse:
    """All samples matching the filters as CSV, streamed."""
    filters, sort = wanted
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return streamed_download(export.sample_csv(database, actor, filters, sort), CSV, f"samples-{stamp}.csv")


_SETTINGS_DOCS = SettingsDocs(
    read="The facility's sample rules: ID prefix, billing pattern, QC thresholds, steps, signed transitions.",
    update="Change the facility's sample rules (managers and admins).",
)
facility_settings_routes(router, service, SettingsOut, SettingsUpdate, access=SETTINGS_ACCESS, docs=_SETTINGS_DOCS)


@router.post("/transitions", response_model=BulkTransitionOut)
async def bulk_transition(
    body: BulkTransitionIn, signature: Signature, session: WriteSession, actor: CanTransition, once: Once
) -> Response:
    """Move up to 1,000 samples to one state, all or none."""

    async def move_all() -> dict[str, Any]:
        samples = await service.bulk_transition(
            session, actor, body.sample_ids, body.to, reason=body.reason, signature=signature
        )
        now = datetime.now(UTC)
        return {"to": body.to, "changed": [sample_document(sample, now) for sample in samples]}

    return await once.answer(actor, 200, move_all)


@router.get("/by-code/{code}", response_model=SampleOut)
async def read_sample_by_code(
    session: ReadSession,
    actor: CanRead,
    code: Annotated[str, Path(min_length=1, max_length=200, description="A barcode or human ID, exactly.")],
) -> Response:
    """The sample with this barcode or human ID: what a scanner at the bench looks up."""
    row = await service.read_sample_by_code(session, actor, code)
    return JsonBytes(sample_document(row), headers=_etag_header(row))


@router.get("/{sample_id}", response_model=SampleOut)
async def read_sample(
    sample_id: uuid.UUID,
    session: ReadSession,
    actor: CanRead,
    response: Response,
    as_of: datetime | None = Query(None, description="Rebuild the sample as it was at this time (ISO 8601)."),
    if_none_match: Annotated[str | None, Header(description="An ETag you hold; 304 if it is current.")] = None,
) -> SampleOut | Response:
    """One sample, now or as it was at ``as_of``."""
    if as_of is not None:
        moment = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
        return await service.sample_as_of(session, actor, sample_id, moment)
    row = await service.read_sample(session, actor, sample_id)
    headers = _etag_header(row)
    if if_none_match is not None and headers["ETag"] in if_none_match:
        return Response(status_code=304, headers=headers)
    return JsonBytes(sample_document(row), headers=headers)


@router.patch("/{sample_id}", response_model=SampleOut)
async def update_sample(
    sample_id: SampleToWrite,
    body: SampleUpdate,
    session: WriteSession,
    actor: CanWrite,
    if_match: IfMatch = None,
) -> Response:
    """Change a sample's fields; needs the ETag you read in If-Match."""
    sample = await service.update_sample(session, actor, sample_id, body, if_match)
    return JsonBytes(sample_document(sample), headers=_etag_header(sample))


@router.post("/{sample_id}/transitions", response_model=SampleOut)
async def transition_sample(
    sample_id: SampleToTransition,
    body: TransitionIn,
    signature: Signature,
    session: WriteSession,
    actor: CanTransition,
    once: Once,
    if_match: IfMatch = None,
) -> Response:
    """Move a sample to another state of its lifecycle."""

    async def move() -> StoredResponse:
        sample = await service.transition(
            session, actor, sample_id, body.to, reason=body.reason, signature=signature, if_match=if_match
        )
        return StoredResponse(200, plain_json(sample_document(sample)), _etag_header(sample))

    return await once.respond(actor, move)


@router.get("/{sample_id}/events", response_model=list[PastEvent])
async def sample_events(sample_id: uuid.UUID, session: ReadSession, actor: CanRead) -> list[PastEvent]:
    """Everything that happened to a sample, oldest first."""
    return await service.sample_events(session, actor, sample_id)


@router.get("/{sample_id}/qc", response_model=list[QcOut])
async def list_qc(sample_id: uuid.UUID, session: ReadSession, actor: CanRead) -> list[QcOut]:
    """A sample's QC measurements with their pass/warn/fail verdicts."""
    return [QcOut.model_validate(row) for row in await service.sample_qc(session, actor, sample_id)]


@router.post("/{sample_id}/qc", response_model=QcOut, status_code=201)
async def record_qc(
    sample_id: SampleToMeasure,
    body: QcIn,
    session: WriteSession,
    actor: CanRecordQc,
    once: Once,
    if_match: IfMatch = None,
) -> Response:
    """Record a QC measurement; it is judged against the facility's thresholds."""

    async def measure() -> dict[str, Any]:
        measurement = await service.record_qc(session, actor, sample_id, body, if_match)
        return QcOut.model_validate(measurement).model_dump(mode="json")

    return await once.answer(actor, 201, measure)


@router.get("/{sample_id}/steps", response_model=list[StepOut])
async def list_steps(sample_id: uuid.UUID, session: ReadSession, actor: CanRead) -> list[StepOut]:
    """A sample's processing steps in order."""
    return [StepOut.model_validate(row) for row in await service.sample_steps(session, actor, sample_id)]


@router.patch("/{sample_id}/steps/{position}", response_model=StepOut)
async def update_step(
    sample_id: SampleToWrite,
    position: int,
    body: StepUpdate,
    session: WriteSession,
    actor: CanWrite,
    if_match: IfMatch = None,
) -> StepOut:
    """Start, finish, skip or assign one processing step."""
    return StepOut.model_validate(await service.update_step(session, actor, sample_id, position, body, if_match))
