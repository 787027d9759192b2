"""The intake pages: submissions, uploading a file, the submitter's order form, and reviewing a submission.

Reads go through the intake service and views exactly as the API's do; each
form opens its own unit of work around the service call (or hands the service
the database, as the API does for files), so a refusal is rolled back before
the page explains it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity import service as identity_service
from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission
from seqtrack.intake import commit, mapping, service
from seqtrack.intake.errors import InvalidMapping
from seqtrack.intake.schemas import OrderIn, RowCorrection, SubmissionState
from seqtrack.intake.views import row_document, submission_with_times
from seqtrack.platform.database import Database
from seqtrack.platform.deps import DatabaseDep, ReadSession
from seqtrack.platform.errors import DomainError, PreconditionFailed
from seqtrack.platform.etag import make_etag
from seqtrack.platform.problems import status_for
from seqtrack.samples.schemas import Priority, SampleType
from seqtrack.settings import Settings
from seqtrack.web.forms import FormProblem, PageForm, Refusal, form_page, require_reason, safe_next
from seqtrack.web.rendering import label, render

router = APIRouter(prefix="/submissions", include_in_schema=False)

CanSubmit = Annotated[Actor, Depends(require(Permission.INTAKE_SUBMIT))]
CanCommit = Annotated[Actor, Depends(require(Permission.INTAKE_COMMIT))]

LIST_PAGE = 50
# Rows shown at once: a 100,000-row file is paged by row number, never rendered whole.
GRID_PAGE = 100
UPLOAD_CHUNK = 1024 * 1024
ORDER_ROWS = 3
MAX_ORDER_ROWS = 200
# The order form's columns, in the order a submitter fills them in.
ORDER_FIELDS = (
    "name",
    "sample_type",
    "organism",
    "concentration_ng_ul",
    "volume_ul",
    "buffer",
    "barcode",
    "priority",
    "notes",
)
# Facts about the whole order, asked once above the table.
ORDER_DETAILS = ("project", "billing_code", "submitter_name", "submitter_email")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# The submission's version the page was rendered from, sent back by each form that changes it.
Version = Annotated[str, Form(max_length=20)]


def _version_etag(submission_id: uuid.UUID, version: str) -> str:
    # The version the page was rendered from: a stale form is refused by the service, never applied.
    return make_etag(submission_id, int(version) if version.isdigit() else -1)


# ---------------------------------------------------------------- the list


@router.get("")
async def submission_list(
    request: Request,
    session: ReadSession,
    actor: CanSubmit,
    state: SubmissionState | None = None,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    items, next_cursor = await service.list_submissions(
        session, actor, state=state.value if state else None, cursor=cursor, limit=LIST_PAGE
    )
    labs = {lab.id: lab.name for lab in await identity_service.list_labs(session, actor)}
    context = {
        "submissions": [submission_with_times(item) for item in items],
        "lab_names": {str(key): name for key, name in labs.items()},
        "states": list(SubmissionState),
        "state": state,
        "next_url": (
            f"/submissions?{urlencode({**({'state': state.value} if state else {}), 'cursor': next_cursor})}"
            if next_cursor
            else None
        ),
    }
    return render(request, "submissions/list.html", context)


# ---------------------------------------------------------------- uploading a file


async def _upload_page(
    request: Request, actor: Actor, session: AsyncSession, refusal: Refusal | None = None
) -> Response:
    context = {
        "labs": await identity_service.list_labs(session, actor),
        "lab_required": actor.sees_only_own_labs,
        "submitted": refusal.form if refusal else {},
        "max_bytes": _settings(request).intake_max_file_bytes,
    }
    return render(request, "submissions/new.html", context, refusal)


UploadForm = Annotated[
    PageForm,
    form_page(router, "/new", _upload_page, read=Permission.INTAKE_SUBMIT, write=Permission.INTAKE_SUBMIT),
]


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(UPLOAD_CHUNK):
        yield chunk


@router.post("/new")
async def upload_file(
    request: Request,
    page: UploadForm,
    file: Annotated[UploadFile, File()],
    lab_id: Annotated[str, Form(max_length=64)] = "",
    project: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The file from the upload page (sent by its script with the CSRF header); the preview follows."""
    submitted = {"lab_id": lab_id, "project": project}
    try:
        lab = uuid.UUID(lab_id) if lab_id else None
    except ValueError:
        lab = None

    async def work() -> str:
        submission = await service.receive_file(
            page.database,
            _settings(request),
            page.actor,
            _chunks(file),
            file_name=file.filename,
            lab_id=lab,
            project=project.strip() or None,
        )
        return f"/submissions/{submission.id}"

    return await page.submit(work, form=submitted)


# ---------------------------------------------------------------- the order form


@dataclass
class OrderForm:
    """The order form as typed: kept whole when refused, with each problem beside its field or cell."""

    details: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, str]] = field(default_factory=list)
    # Problems beside an order-wide field, and beside a cell: {(row index, field): message}.
    detail_errors: dict[str, str] = field(default_factory=dict)
    cell_errors: dict[tuple[int, str], str] = field(default_factory=dict)

    @classmethod
    def empty(cls, rows: int = ORDER_ROWS) -> OrderForm:
        return cls(rows=[dict.fromkeys(ORDER_FIELDS, "") for _ in range(rows)])

    def filled(self) -> list[int]:
        """The indexes of rows with anything typed in them: blank rows are not samples."""
        return [index for index, row in enumerate(self.rows) if any(value.strip() for value in row.values())]

    def body(self) -> dict[str, Any]:
        details = {name: value.strip() for name, value in self.details.items() if value.strip()}
        samples = [
            {name: value.strip() for name, value in self.rows[index].items() if value.strip()}
            for index in self.filled()
        ]
        return {**details, "samples": samples}

    def blame(self, field_name: str, message: str, sample: int | None) -> None:
        """Put a problem beside its field: an order-wide one once, a sample's beside its cell."""
        rows = self.filled()
        if field_name in ORDER_DETAILS or field_name == "lab_id" or sample is None:
            self.detail_errors.setdefault(field_name, message)
        elif 1 <= sample <= len(rows) and field_name in ORDER_FIELDS:
            self.cell_errors.setdefault((rows[sample - 1], field_name), message)
        else:
            self.detail_errors.setdefault(field_name, f"sample {sample}: {message}")


def _order_from(form: Any) -> OrderForm:
    count = min(
        int(str(form.get("rows", ORDER_ROWS))) if str(form.get("rows", "")).isdigit() else ORDER_ROWS, MAX_ORDER_ROWS
    )
    order = OrderForm(details={name: str(form.get(name, ""))[:320] for name in (*ORDER_DETAILS, "lab_id")})
    order.rows = [
        {name: str(form.get(f"{name}_{index}", ""))[:2000] for name in ORDER_FIELDS} for index in range(count)
    ]
    return order


async def _order_page(
    request: Request, actor: Actor, order: OrderForm, session: AsyncSession, refusal: Refusal | None = None
) -> Response:
    context = {
        "order": order,
        "fields": ORDER_FIELDS,
        "labs": await identity_service.list_labs(session, actor),
        "choices": {"sample_type": list(SampleType), "priority": list(Priority)},
    }
    return render(request, "submissions/order.html", context, refusal)


@router.get("/order")
async def order_page(request: Request, session: ReadSession, actor: CanSubmit) -> Response:
    return await _order_page(request, actor, OrderForm.empty(), session)


@router.post("/order")
async def submit_order(request: Request, database: DatabaseDep, actor: CanSubmit) -> Response:
    """Send the order (nothing is created while any sample is wrong), or add rows to the table."""
    form = await request.form()
    order = _order_from(form)
    if form.get("more"):
        order.rows += [dict.fromkeys(ORDER_FIELDS, "") for _ in range(ORDER_ROWS)]
        order.rows = order.rows[:MAX_ORDER_ROWS]
        async with database.read_session() as session:
            return await _order_page(request, actor, order, session)
    body = order.body()
    if order.details.get("lab_id"):
        body["lab_id"] = order.details["lab_id"]
    try:
        submission = await service.submit_order(database, _settings(request), actor, OrderIn.model_validate(body))
    except ValidationError as error:
        for detail in error.errors(include_url=False):
            location = [part for part in detail["loc"] if part != "samples"]
            sample = int(location[0]) + 1 if location and isinstance(location[0], int) else None
            name = str(location[-1]) if location and not isinstance(location[-1], int) else "samples"
            order.blame(name, "add at least one sample" if name == "samples" else detail["msg"], sample)
        return await _order_refused(request, database, actor, order, "Some fields need attention; nothing was sent.")
    except DomainError as error:
        for item in error.extra.get("errors") or []:
            if isinstance(item, dict) and item.get("field"):
                sample = item.get("sample")
                order.blame(str(item["field"]), str(item.get("message", "invalid")), int(sample) if sample else None)
        if isinstance(error.extra.get("field"), str):
            order.blame(error.extra["field"], error.detail, None)
        return await _order_refused(request, database, actor, order, error.detail)
    return RedirectResponse(f"/submissions/{submission.id}?sent=1", status_code=303)


async def _order_refused(
    request: Request, database: Database, actor: Actor, order: OrderForm, message: str
) -> Response:
    page = PageForm(database, actor, partial(_order_page, request, actor, order))
    return await page.refuse(Refusal(FormProblem(message)))


# ---------------------------------------------------------------- one submission


@dataclass
class Review:
    """What the review page needs beyond the API's documents: a refusal, a stale edit, typed values kept."""

    problem: FormProblem | None = None
    mapping_errors: dict[str, str] = field(default_factory=dict)
    stale_row: int | None = None
    typed: dict[str, str] = field(default_factory=dict)
    edit: int | None = None


def _grid_columns(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The file's columns read as a field, in the file's order, with where each cell is in a row's cells."""
    return [
        {
            "index": index,
            "column": column["column"],
            "field": column["field"],
            # Submission-wide facts (an e-mail, a PI) are not a row's to correct.
            "editable": column["field"] in mapping.SAMPLE_FIELDS,
        }
        for index, column in enumerate(document["mapping"])
        if column["field"]
    ]


def _grid_row(row: dict[str, Any], columns: list[dict[str, Any]]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    for error in row["errors"]:
        errors.setdefault(str(error["field"]), []).append(str(error["message"]))
    shown = {column["field"] for column in columns}
    cells = row["cells"]
    return {
        **row,
        "text": {
            column["field"]: (cells[column["index"]] if column["index"] < len(cells) else "") for column in columns
        },
        "cell_errors": errors,
        # A problem with no column of its own (a default from the form's header, the order's billing code).
        "other_errors": [
            f"{label(name)}: {message}"
            for name, messages in errors.items()
            if name not in shown
            for message in messages
        ],
        "has_problems": bool(row["errors"] or row["needs_confirmation"]),
    }


async def _review_page(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    submission_id: uuid.UUID,
    *,
    after: int = 0,
    problems_only: bool = False,
    review: Review | None = None,
    status_code: int = 200,
) -> Response:
    review = review or Review()
    submission, rows = await service.submission_rows(
        session, actor, submission_id, after=after, limit=GRID_PAGE, only_problems=problems_only
    )
    threshold = (await service.read_settings(session, submission.tenant_id, _settings(request))).confidence_threshold
    document = submission_with_times(submission)
    columns = _grid_columns(document)
    labs = {lab.id: lab.name for lab in await identity_service.list_labs(session, actor)}
    paging = {"problems": "1"} if problems_only else {}
    next_after = rows[-1].row_number if len(rows) == GRID_PAGE else None
    open_ = submission.state in (SubmissionState.DRAFT, SubmissionState.VALIDATED) and submission.phase == "done"
    context = {
        "submission": document,
        "lab_name": labs.get(submission.lab_id) if submission.lab_id else None,
        "columns": columns,
        "rows": [_grid_row(row_document(row, threshold), columns) for row in rows],
        "threshold": threshold,
        "after": after,
        "problems_only": problems_only,
        "here": f"/submissions/{submission.id}?{urlencode({**paging, 'after': after})}",
        "next_url": (
            f"/submissions/{submission.id}?{urlencode({**paging, 'after': next_after})}" if next_after else None
        ),
        "fields": mapping.MAPPABLE_FIELDS,
        "mapping_changeable": submission.source in ("csv", "xlsx"),
        "open": open_,
        "reading": submission.phase != "done",
        "can_commit": actor.can(Permission.INTAKE_COMMIT),
        "can_cancel": not actor.sees_only_own_labs or submission.submitter_id == actor.user_id,
        "samples_url": _samples_url(submission.project, submission.lab_id),
        "review": review,
        "problem": review.problem,
        "sent": request.query_params.get("sent"),
    }
    return render(request, "submissions/detail.html", context, status_code=status_code)


def _samples_url(project: str | None, lab_id: uuid.UUID | None) -> str:
    query = {**({"project": project} if project else {}), **({"lab_id": str(lab_id)} if lab_id else {})}
    return "/samples" + (f"?{urlencode(query)}" if query else "")


@router.get("/{submission_id}")
async def review_page(
    request: Request,
    submission_id: uuid.UUID,
    session: ReadSession,
    actor: CanSubmit,
    after: Annotated[int, Query(ge=0)] = 0,
    problems: bool = False,
    edit: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    return await _review_page(
        request, session, actor, submission_id, after=after, problems_only=problems, review=Review(edit=edit)
    )


async def _review_refused(
    request: Request, database: Database, actor: Actor, submission_id: uuid.UUID, review: Review, status_code: int
) -> Response:
    async with database.read_session() as session:
        return await _review_page(request, session, actor, submission_id, review=review, status_code=status_code)


@router.post("/{submission_id}/mapping")
async def change_mapping(
    request: Request, submission_id: uuid.UUID, database: DatabaseDep, actor: CanSubmit, version: Version = ""
) -> Response:
    """Read the file's columns as chosen here, and every row again."""
    form = await request.form()
    chosen: dict[str, str | None] = {}
    for index in range(min(int(str(form.get("count", "0")) or 0), 10_000)):
        column = form.get(f"column_{index}")
        if isinstance(column, str):
            chosen[column] = str(form.get(f"field_{index}", "")) or None
    if_match = _version_etag(submission_id, version)
    try:
        await service.change_mapping(database, _settings(request), actor, submission_id, chosen, if_match)
    except PreconditionFailed:
        message = (
            "Someone changed this submission after you opened it; the mapping was not changed. "
            "Check it as it is now and choose again."
        )
        return await _review_refused(request, database, actor, submission_id, Review(FormProblem(message)), 409)
    except InvalidMapping as error:
        columns = {str(item["column"]): str(item["message"]) for item in error.extra.get("errors") or []}
        review = Review(FormProblem(error.detail), mapping_errors=columns)
        return await _review_refused(request, database, actor, submission_id, review, 422)
    except DomainError as error:
        return await _review_refused(
            request, database, actor, submission_id, Review(FormProblem.of(error)), status_for(error)
        )
    return RedirectResponse(f"/submissions/{submission_id}?mapped=1", status_code=303)


@router.post("/{submission_id}/rows/{row_number}")
async def correct_row(
    request: Request,
    submission_id: uuid.UUID,
    row_number: int,
    database: DatabaseDep,
    actor: CanSubmit,
    version: Version = "",
) -> Response:
    """Save a row's corrected cells and confirmed readings; a stale page saves nothing."""
    form = await request.form()
    typed = {name: str(form.get(f"value_{name}", "")) for name in mapping.MAPPABLE_FIELDS if f"value_{name}" in form}
    # Only what the person changed is sent: an unchanged cell never overwrites anyone's.
    changes = {
        name: (text.strip() or None) for name, text in typed.items() if text != str(form.get(f"original_{name}", ""))
    }
    confirm = [str(name) for name in form.getlist("confirm")]
    back = safe_next(str(form.get("back", "")), f"/submissions/{submission_id}")
    if not changes and not confirm:
        return RedirectResponse(f"{back}#row-{row_number}", status_code=303)
    if_match = _version_etag(submission_id, version)
    try:
        body = RowCorrection.model_validate({"values": changes, "confirm": confirm})
        async with database.write_session() as session:
            await service.correct_row(session, actor, _settings(request), submission_id, row_number, body, if_match)
    except PreconditionFailed:
        message = (
            f"Someone changed this submission after you opened it. Nothing was saved in row {row_number}: "
            "check the row as it is now, then save again if your change still applies."
        )
        review = Review(FormProblem(message), stale_row=row_number, typed=typed, edit=row_number)
        return await _review_refused(request, database, actor, submission_id, review, 409)
    except ValidationError as error:
        review = Review(FormProblem.from_validation(error), edit=row_number, typed=typed)
        return await _review_refused(request, database, actor, submission_id, review, 422)
    except DomainError as error:
        review = Review(FormProblem.of(error), edit=row_number, typed=typed)
        return await _review_refused(request, database, actor, submission_id, review, status_for(error))
    return RedirectResponse(f"{back}#row-{row_number}", status_code=303)


async def _decide(
    request: Request,
    database: Database,
    actor: Actor,
    submission_id: uuid.UUID,
    decision: Callable[[], Awaitable[object]],
) -> Response:
    """Run a decision on the submission, then show the page again: with its result, or with why it was refused."""
    try:
        await decision()
    except DomainError as error:
        review = Review(FormProblem.of(error))
        return await _review_refused(request, database, actor, submission_id, review, status_for(error))
    return RedirectResponse(f"/submissions/{submission_id}", status_code=303)


@router.post("/{submission_id}/commit")
async def commit_submission(
    request: Request, submission_id: uuid.UUID, database: DatabaseDep, actor: CanCommit
) -> Response:
    async def decision() -> object:
        return await commit.start_commit(database, _settings(request), actor, submission_id, None)

    return await _decide(request, database, actor, submission_id, decision)


@router.post("/{submission_id}/reject")
async def reject_submission(
    request: Request,
    submission_id: uuid.UUID,
    database: DatabaseDep,
    actor: CanCommit,
    reason: Annotated[str, Form(max_length=2000)] = "",
    version: Version = "",
) -> Response:
    async def decision() -> object:
        require_reason(reason, "Say why the submission is turned down; the submitter is told.")
        async with database.write_session() as session:
            return await service.reject(
                session, actor, submission_id, reason.strip(), _version_etag(submission_id, version)
            )

    return await _decide(request, database, actor, submission_id, decision)


@router.post("/{submission_id}/cancel")
async def cancel_submission(
    request: Request,
    submission_id: uuid.UUID,
    database: DatabaseDep,
    actor: CanSubmit,
    version: Version = "",
) -> Response:
    async def decision() -> object:
        async with database.write_session() as session:
            return await service.cancel(session, actor, submission_id, _version_etag(submission_id, version))

    return await _decide(request, database, actor, submission_id, decision)
