"""The intake API (DESIGN.md §8): thin routes over the intake service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse

from seqtrack.intake import commit, reports, service, templates
from seqtrack.intake.deps import CanCommit, CanConfigure, CanSubmit, SubmissionToDecide, SubmissionToReview
from seqtrack.intake.schemas import (
    MappingChange,
    OrderIn,
    PreviewOut,
    RejectIn,
    RowCorrection,
    RowOut,
    SettingsOut,
    SettingsUpdate,
    SubmissionOut,
    SubmissionState,
)
from seqtrack.intake.views import row_document, submission_document
from seqtrack.platform.deps import DatabaseDep, IfMatch, ReadSession, WriteSession, get_database
from seqtrack.platform.etag import make_etag
from seqtrack.platform.pagination import Page
from seqtrack.platform.responses import CSV, PDF, XLSX, JsonBytes, download, streamed_download
from seqtrack.settings import Settings

router = APIRouter(prefix="/submissions", tags=["intake"])

IdempotencyKeyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=200, description="Repeat the commit safely.")
]
PREVIEW_ROWS = 200
UPLOAD_CHUNK = 1024 * 1024


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _etag(submission_id: uuid.UUID, version: int) -> dict[str, str]:
    return {"ETag": make_etag(submission_id, version)}


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(UPLOAD_CHUNK):
        yield chunk


@router.get("/template.csv", response_class=Response)
async def template_csv(actor: CanSubmit) -> Response:
    """An empty submission sheet as CSV, one column per field, with an example row."""
    return download(templates.template_csv(), CSV, "seqtrack-submission.csv")


@router.get("/template.xlsx", response_class=Response)
async def template_xlsx(actor: CanSubmit) -> Response:
    """The submission sheet as XLSX, with drop-downs for the controlled fields."""
    return download(templates.template_xlsx(), XLSX, "seqtrack-submission.xlsx")


@router.get("/template.pdf", response_class=Response)
async def template_pdf(actor: CanSubmit) -> Response:
    """A printable submission form (PDF) that SeqTrack can read back when filled in."""
    return download(templates.template_pdf(), PDF, "seqtrack-submission-form.pdf")


@router.get("/settings", response_model=SettingsOut)
async def read_settings(request: Request, session: ReadSession, actor: CanSubmit) -> Response:
    """The facility's intake rules: the confidence under which a reading must be confirmed."""
    current = await service.read_settings(session, actor.tenant_id, _settings(request))
    body = SettingsOut.model_validate(current).model_dump(mode="json")
    return JsonBytes(body, headers=_etag(current.tenant_id, current.version))


@router.patch("/settings", response_model=SettingsOut)
async def update_settings(
    request: Request, body: SettingsUpdate, session: WriteSession, actor: CanConfigure, if_match: IfMatch = None
) -> Response:
    """Change the facility's confidence threshold (managers and admins)."""
    current = await service.update_settings(session, actor, _settings(request), body, if_match)
    answer = SettingsOut.model_validate(current).model_dump(mode="json")
    return JsonBytes(answer, headers=_etag(current.tenant_id, current.version))


@router.post("", response_model=PreviewOut, status_code=201)
async def submit_file(
    request: Request,
    actor: CanSubmit,
    file: UploadFile = File(description="CSV, XLSX or a filled-in PDF form; the type is read from the content."),
    lab_id: uuid.UUID | None = Form(None, description="The lab the samples belong to (a submitter's own)."),
    project: str | None = Form(None, max_length=200),
) -> Response:
    """Upload a submission file; answers the preview (or 202 while a large file is read in the background)."""
    settings = _settings(request)
    submission = await service.receive_file(
        get_database(request),
        settings,
        actor,
        _chunks(file),
        file_name=file.filename,
        lab_id=lab_id,
        project=project,
    )
    return await _preview(request, actor, submission.id, 201 if submission.phase == "done" else 202)


@router.post("/order", response_model=PreviewOut, status_code=201)
async def submit_order(request: Request, body: OrderIn, actor: CanSubmit) -> Response:
    """Submit samples typed into the order form; refused whole, naming each problem, when any sample is wrong."""
    submission = await service.submit_order(get_database(request), _settings(request), actor, body)
    return await _preview(request, actor, submission.id, 201)


@router.get("", response_model=Page[SubmissionOut])
async def list_submissions(
    session: ReadSession,
    actor: CanSubmit,
    state: SubmissionState | None = None,
    limit: int = Query(50, ge=1, le=200),
    cursor: str | None = Query(None, max_length=1000),
) -> Response:
    """Submissions, newest first; a submitter sees their own and their labs'."""
    items, next_cursor = await service.list_submissions(
        session, actor, state=state.value if state else None, cursor=cursor, limit=limit
    )
    return JsonBytes({"items": [submission_document(item) for item in items], "next_cursor": next_cursor})


async def _preview(
    request: Request,
    actor: CanSubmit,
    submission_id: uuid.UUID,
    status: int = 200,
    *,
    after: int = 0,
    limit: int = PREVIEW_ROWS,
    only_problems: bool = False,
) -> Response:
    database = get_database(request)
    async with database.read_session() as session:
        submission, rows = await service.submission_rows(
            session, actor, submission_id, after=after, limit=limit, only_problems=only_problems
        )
        threshold = (
            await service.read_settings(session, submission.tenant_id, _settings(request))
        ).confidence_threshold
    body = submission_document(submission)
    body["rows"] = [row_document(row, threshold) for row in rows]
    body["next_after"] = rows[-1].row_number if len(rows) == limit else None
    return JsonBytes(body, status_code=status, headers=_etag(submission.id, submission.version))


@router.get("/{submission_id}", response_model=PreviewOut)
async def preview(
    request: Request,
    submission_id: uuid.UUID,
    actor: CanSubmit,
    after: int = Query(0, ge=0, description="Rows after this row number (the previous page's next_after)."),
    limit: int = Query(PREVIEW_ROWS, ge=1, le=1000),
    problems: bool = Query(False, description="Only rows with errors or readings to confirm."),
) -> Response:
    """The submission with its rows, their errors and per-field confidence, the column mapping and progress."""
    return await _preview(request, actor, submission_id, after=after, limit=limit, only_problems=problems)


@router.get("/{submission_id}/errors.csv", response_class=StreamingResponse)
async def error_report_csv(request: Request, submission_id: uuid.UUID, actor: CanSubmit) -> StreamingResponse:
    """The rows with problems in the file's own columns plus an Errors column, to fix and upload again."""
    database = get_database(request)
    async with database.read_session() as session:
        submission = await service.get_submission(session, actor, submission_id)
    return streamed_download(reports.error_csv(database, submission), CSV, f"{reports.report_name(submission)}.csv")


@router.get("/{submission_id}/errors.xlsx", response_class=Response)
async def error_report_xlsx(request: Request, submission_id: uuid.UUID, actor: CanSubmit) -> Response:
    """The same report as an XLSX workbook."""
    database = get_database(request)
    async with database.read_session() as session:
        submission = await service.get_submission(session, actor, submission_id)
    content = await reports.error_xlsx(database, submission)
    return download(content, XLSX, f"{reports.report_name(submission)}.xlsx")


@router.patch("/{submission_id}/rows/{row_number}", response_model=RowOut)
async def correct_row(
    request: Request,
    submission_id: SubmissionToReview,
    row_number: int,
    body: RowCorrection,
    session: WriteSession,
    actor: CanSubmit,
    if_match: IfMatch = None,
) -> Response:
    """Correct cells of a row or confirm its low-confidence readings; needs the submission's ETag in If-Match."""
    settings = _settings(request)
    submission, row = await service.correct_row(session, actor, settings, submission_id, row_number, body, if_match)
    threshold = (await service.read_settings(session, submission.tenant_id, settings)).confidence_threshold
    document = row_document(row, threshold)
    document["submission"] = submission_document(submission)
    return JsonBytes(document, headers=_etag(submission.id, submission.version))


@router.patch("/{submission_id}/mapping", response_model=PreviewOut)
async def change_mapping(
    request: Request, submission_id: SubmissionToReview, body: MappingChange, actor: CanSubmit, if_match: IfMatch = None
) -> Response:
    """Read named file columns as other fields (null: ignore) and every row again; needs the ETag in If-Match."""
    submission = await service.change_mapping(
        get_database(request), _settings(request), actor, submission_id, body.columns, if_match
    )
    return await _preview(request, actor, submission.id, 200 if submission.phase == "done" else 202)


@router.post("/{submission_id}/commit", response_model=SubmissionOut)
async def commit_submission(
    request: Request,
    submission_id: SubmissionToDecide,
    database: DatabaseDep,
    actor: CanCommit,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Create every sample of the submission or none (202 while a large one commits in the background)."""
    submission, done = await commit.start_commit(database, _settings(request), actor, submission_id, idempotency_key)
    return JsonBytes(
        submission_document(submission),
        status_code=200 if done else 202,
        headers=_etag(submission.id, submission.version),
    )


@router.post("/{submission_id}/reject", response_model=SubmissionOut)
async def reject_submission(
    submission_id: SubmissionToDecide, body: RejectIn, session: WriteSession, actor: CanCommit, if_match: IfMatch = None
) -> Response:
    """Turn the submission down with a reason; the submitter is e-mailed."""
    submission = await service.reject(session, actor, submission_id, body.reason, if_match)
    return JsonBytes(submission_document(submission), headers=_etag(submission.id, submission.version))


@router.post("/{submission_id}/cancel", response_model=SubmissionOut)
async def cancel_submission(
    submission_id: SubmissionToReview, session: WriteSession, actor: CanSubmit, if_match: IfMatch = None
) -> Response:
    """Withdraw a submission that was not committed yet."""
    submission = await service.cancel(session, actor, submission_id, if_match)
    return JsonBytes(submission_document(submission), headers=_etag(submission.id, submission.version))
