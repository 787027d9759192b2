"""Submission use cases: receive a file, read and validate it row by row, review, commit all or nothing.

The submission's own changes go through the recorder like any other (state,
event, audit entry and outbox row together). Samples are created only by the
samples service, in one transaction, from the commit saga.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from seqtrack.events.recorder import DomainEvent, record
from seqtrack.identity import service as identity_service
from seqtrack.identity.actor import Actor
from seqtrack.identity.errors import LabNotFound
from seqtrack.intake import files, mapping, parsing, pdf, personal, repository, validation
from seqtrack.intake.errors import (
    AlreadyCommitted,
    FileRefused,
    InvalidCorrection,
    InvalidMapping,
    InvalidOrder,
    MappingFixed,
    NotReadyToCommit,
    RowNotFound,
    SubmissionClosed,
    SubmissionNotFound,
)
from seqtrack.intake.events import AGGREGATE, SubmissionEvent
from seqtrack.intake.models import IntakeSettings, Submission, SubmissionRow
from seqtrack.intake.schemas import OrderIn, RowCorrection, SettingsUpdate, SubmissionState
from seqtrack.platform import crypto
from seqtrack.platform.bulk import insert_rows
from seqtrack.platform.database import Database
from seqtrack.platform.errors import Forbidden
from seqtrack.platform.etag import check_if_match
from seqtrack.platform.models import new_id, utcnow
from seqtrack.samples import service as samples_service
from seqtrack.settings import Settings

log = structlog.get_logger("seqtrack.intake")

BATCH_ROWS = 1000
# A progress event for the live feed every so many rows: often enough to move a bar, rarely enough not to flood.
PROGRESS_EVERY_ROWS = 5_000
OPEN_STATES = (SubmissionState.DRAFT, SubmissionState.VALIDATED)
DUPLICATE_FIELDS = ("barcode", "name", "library_barcode")

# ---------------------------------------------------------------- facility rules


async def read_settings(session: AsyncSession, tenant_id: uuid.UUID, settings: Settings) -> IntakeSettings:
    stored = await session.get(IntakeSettings, tenant_id)
    if stored is not None:
        return stored
    return IntakeSettings(
        tenant_id=tenant_id, confidence_threshold=settings.intake_confidence_threshold, version=0, updated_at=utcnow()
    )


async def update_settings(
    session: AsyncSession, actor: Actor, settings: Settings, body: SettingsUpdate, if_match: str | None
) -> IntakeSettings:
    current = await session.get(IntakeSettings, actor.tenant_id)
    if current is None:
        current = await read_settings(session, actor.tenant_id, settings)
        session.add(current)
    check_if_match(if_match, current.tenant_id, current.version, required=True)
    if body.confidence_threshold is None or body.confidence_threshold == current.confidence_threshold:
        return current
    changes = {"confidence_threshold": (current.confidence_threshold, body.confidence_threshold)}
    current.confidence_threshold = body.confidence_threshold
    await _record_change(
        session,
        actor,
        current,
        DomainEvent(
            type=SubmissionEvent.SETTINGS_UPDATED,
            aggregate_type="intake_settings",
            aggregate_id=current.tenant_id,
            changes=changes,
        ),
    )
    return current


async def _record_change(
    session: AsyncSession, actor: Actor, changed: Submission | IntakeSettings, event: DomainEvent
) -> None:
    """The change is written with its next version (its ETag), and ``event`` records it under that version."""
    changed.version += 1
    changed.updated_at = utcnow()
    await session.flush()
    await record(session, event, actor, version=changed.version)


# ---------------------------------------------------------------- receiving


@dataclass
class Source:
    """Rows to read, how their columns map, and the answers written around them."""

    kind: str
    columns: list[str]
    mappings: list[mapping.ColumnMapping]
    rows: Iterable[tuple[int, list[str]]]
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    header_row: int | None = None
    # For a PDF form: how sure a table cell is, and the lines it was read from.
    cell_confidence: float = 1.0
    evidence: dict[int, str] = field(default_factory=dict)
    extractor: str | None = None
    text: str | None = None
    # Whether "1,500" means 1.5: yes unless the file separates its columns with commas.
    decimal_comma: bool = True


def open_source(path: Path, kind: str) -> Source:
    """The file's layout (header, mapping, form answers); its rows are read lazily from there."""
    if kind == "pdf":
        form = pdf.read_form(pdf.extract_text(path))
        if not form.rows:
            raise FileRefused(
                "No sample table was found in the PDF form (a header such as 'Sample name  Conc. (ng/uL)  Volume "
                "(uL)' followed by one line per sample).",
                problem="no_samples",
            )
        lines = form.text.splitlines()
        evidence = {number: lines[number - 1].strip() for number, _cells in form.rows if number - 1 < len(lines)}
        return Source(
            kind,
            form.columns,
            form.mappings,
            iter(form.rows),
            form.details,
            form.header_row,
            pdf.TABLE_CONFIDENCE,
            evidence,
            "rules",
            form.text,
        )
    sheet = parsing.open_sheet(path, kind)
    layout = parsing.find_layout(sheet.rows)
    return Source(
        kind,
        layout.columns,
        layout.mappings,
        sheet.rows,
        layout.details,
        layout.header_row,
        decimal_comma=sheet.delimiter != ",",
    )


async def receive_file(
    database: Database,
    settings: Settings,
    actor: Actor,
    chunks: AsyncIterator[bytes],
    *,
    file_name: str | None,
    lab_id: uuid.UUID | None,
    project: str | None,
) -> Submission:
    """Keep the file, read it (here, or in a job when it is large) and answer with the submission."""
    async with files.store_file(settings, database.keyring, chunks) as stored:
        return await _receive(database, settings, actor, stored, file_name=file_name, lab_id=lab_id, project=project)


async def _receive(
    database: Database,
    settings: Settings,
    actor: Actor,
    stored: files.StoredFile,
    *,
    file_name: str | None,
    lab_id: uuid.UUID | None,
    project: str | None,
) -> Submission:
    kind = parsing.sniff_kind(stored.path, file_name)
    async with database.read_session() as session:
        await _check_lab(session, actor, lab_id)
    source = await asyncio.to_thread(open_source, stored.path, kind)
    if kind == "pdf" and settings.llm_url:
        from seqtrack.intake import llm

        source = await llm.improve(settings, source)
    background = kind != "pdf" and stored.size > settings.intake_background_bytes
    async with database.write_session() as session:
        submission = await _new_submission(
            session, actor, settings, source, stored, file_name=file_name, lab_id=lab_id, project=project
        )
        if background:
            submission.phase = "queued"
            await _read_later(session, submission, settings)
            return submission
        await _read(session, submission, source, settings, into=_same_session(session))
        if submission.row_count == 0:
            raise FileRefused(
                "The file has a header but no sample rows.", problem="no_rows", header_row=source.header_row
            )
        return submission


READ_TASK = "intake.read"


async def _read_later(session: AsyncSession, submission: Submission, settings: Settings) -> None:
    """Queue the job that reads the submission's (large) file, in the caller's unit of work."""
    from seqtrack.jobs import service as jobs_service

    job = await jobs_service.enqueue(
        session, READ_TASK, {"submission_id": str(submission.id)}, tenant_id=submission.tenant_id, settings=settings
    )
    submission.job_id = job.id
    await session.flush()


async def read_in_background(database: Database, settings: Settings, submission_id: uuid.UUID) -> None:
    """The job that reads a large file: rows in batches, each committed with the progress it made."""
    async with database.write_session() as session:
        submission = await session.get(Submission, submission_id)
        if submission is None or submission.phase == "done":
            return
        # A retry after a crash starts the reading over: rows of the attempt that died go.
        await repository.delete_rows(session, submission_id)
        submission.phase = "reading"
        submission.rows_parsed = submission.rows_validated = 0
        sha256 = submission.file_sha256 or ""
        kind = submission.source
    try:
        async with files.opened_copy(settings, database.keyring, sha256) as path:
            source = await asyncio.to_thread(open_source, path, kind)
            async with database.read_session() as session:
                submission = await _load(session, submission_id)
                pattern, threshold = await _rules(session, submission.tenant_id, settings)
            # As last chosen: a person may have mapped the columns differently from the header.
            source.mappings = stored_mappings(submission)
            # No unit of work is held while reading: each batch commits on its own (SQLite has one writer).
            first_values = await _read_rows(submission, source, pattern, threshold, _own_sessions(database))
        async with database.write_session() as session:
            submission = await _load(session, submission_id)
            await _finish(session, submission, source, first_values, threshold)
            if submission.row_count == 0:
                raise FileRefused("The file has a header but no sample rows.", problem="no_rows")
    except FileRefused as refused:
        async with database.write_session() as session:
            submission = await _load(session, submission_id)
            await repository.delete_rows(session, submission_id)
            await _set_state(
                session,
                Actor.system(submission.tenant_id, "intake"),
                submission,
                SubmissionState.REJECTED,
                SubmissionEvent.REJECTED,
                reason=refused.detail,
                problems=[{"message": refused.detail, **refused.extra}],
            )
            submission.phase = "failed"


async def _check_lab(session: AsyncSession, actor: Actor, lab_id: uuid.UUID | None) -> None:
    if actor.sees_only_own_labs:
        if lab_id is None:
            raise InvalidOrder(
                "Name the lab the samples belong to (one of yours).",
                errors=[{"field": "lab_id", "message": "required for submitters"}],
            )
        if lab_id not in actor.lab_ids:
            raise Forbidden("You can submit only for your own labs.", field="lab_id")
    if lab_id is not None:
        try:
            await identity_service.get_lab(session, actor, lab_id)
        except LabNotFound:
            raise InvalidOrder(
                "No such lab in this facility.", errors=[{"field": "lab_id", "message": "no such lab"}]
            ) from None


async def _new_submission(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    source: Source,
    stored: files.StoredFile | None,
    *,
    file_name: str | None,
    lab_id: uuid.UUID | None,
    project: str | None,
) -> Submission:
    details = dict(source.details)
    if project:
        details["project"] = {
            "value": project,
            "confidence": 1.0,
            "evidence": "given with the upload",
            "label": "project",
        }
    email = details.get("submitter_email", {}).get("value")
    submission = Submission(
        id=new_id(),
        tenant_id=actor.tenant_id,
        lab_id=lab_id,
        project=str(details["project"]["value"]) if "project" in details else None,
        submitter_id=actor.user_id,
        submitter_display=actor.display,
        notify_email=str(email) if email else await identity_service.email_of(session, actor),
        source=source.kind,
        file_name=(file_name or "")[:255] or None,
        file_sha256=stored.sha256 if stored else None,
        file_size=stored.size if stored else None,
        state=SubmissionState.DRAFT,
        phase="reading",
        rows_parsed=0,
        rows_validated=0,
        rows_total=None,
        row_count=0,
        error_count=0,
        unconfirmed_count=0,
        columns=source.columns,
        mapping=[column.as_json() for column in source.mappings],
        header_row=source.header_row,
        decimal_comma=source.decimal_comma,
        details=details,
        problems=[],
        extractor=source.extractor,
        samples_created=0,
        created_at=utcnow(),
        updated_at=utcnow(),
        version=1,
    )
    session.add(submission)
    await session.flush()
    await record(
        session,
        DomainEvent(
            type=SubmissionEvent.CREATED,
            aggregate_type=AGGREGATE,
            aggregate_id=submission.id,
            data=_event_data(submission, source=submission.source, file_sha256=submission.file_sha256),
        ),
        actor,
        version=submission.version,
    )
    return submission


def _event_data(submission: Submission, **extra: Any) -> dict[str, Any]:
    # Every submission event names its lab: the live feed shows a submitter only their own labs' news.
    return {"submission_id": submission.id, "lab_id": submission.lab_id, **extra}


# ---------------------------------------------------------------- reading rows

SessionScope = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def _same_session(session: AsyncSession) -> SessionScope:
    @contextlib.asynccontextmanager
    async def scope() -> AsyncIterator[AsyncSession]:
        yield session

    return scope


def _own_sessions(database: Database) -> SessionScope:
    return database.write_session


async def _read(
    session: AsyncSession, submission: Submission, source: Source, settings: Settings, *, into: SessionScope
) -> None:
    """Read a small file in the caller's unit of work: rows, duplicates and the submission's state together."""
    pattern, threshold = await _rules(session, submission.tenant_id, settings)
    first_values = await _read_rows(submission, source, pattern, threshold, into)
    await _finish(session, submission, source, first_values, threshold)


async def _rules(session: AsyncSession, tenant_id: uuid.UUID, settings: Settings) -> tuple[str | None, float]:
    rules = await samples_service.read_settings(session, tenant_id)
    threshold = (await read_settings(session, tenant_id, settings)).confidence_threshold
    return rules.billing_code_pattern, threshold


async def _read_rows(
    submission: Submission, source: Source, billing_code_pattern: str | None, threshold: float, into: SessionScope
) -> dict[str, Any] | None:
    """Read, validate and keep every row; ``into`` gives the unit of work each batch is written in.

    A small file's batches go into the caller's own unit of work; a job's each
    into one of its own, so the progress it makes is visible as it goes.
    Answers the first row's values (a CSV repeats the submitter's details on each).
    """
    defaults = {name: answer for name, answer in submission.details.items() if name in mapping.SAMPLE_FIELDS}
    if source.kind == "pdf":
        defaults = dict(pdf.request_defaults(submission.details))
    writer = _RowWriter(submission, threshold, into)
    first_values: dict[str, Any] | None = None
    for number, cells in source.rows:
        if not any(cell.strip() for cell in cells):
            # Blank rows (a spreadsheet's trailing ones above all) are not samples.
            continue
        if any(len(cell) > parsing.MAX_CELL_CHARS for cell in cells):
            raise FileRefused(
                f"Row {number} has a cell over {parsing.MAX_CELL_CHARS:,} characters.", problem="cell_too_long"
            )
        reading = validation.read_row(number, cells, source.mappings, defaults, source.decimal_comma)
        if source.cell_confidence < 1.0:
            line = source.evidence.get(number, " ".join(cells))
            for column in source.mappings:
                if column.field is not None and column.field in reading.values:
                    reading.confidence.setdefault(
                        column.field, {"confidence": source.cell_confidence, "evidence": line}
                    )
        validation.check(reading, billing_code_pattern)
        if first_values is None:
            first_values = dict(reading.values)
        await writer.add(reading)
    await writer.flush()
    return first_values


async def _finish(
    session: AsyncSession,
    submission: Submission,
    source: Source,
    first_values: dict[str, Any] | None,
    threshold: float,
) -> None:
    """Duplicates inside the file, the submission-wide details, counts and state, once every row is in."""
    if first_values is not None and source.kind != "pdf":
        details = dict(submission.details)
        for name in mapping.SUBMISSION_FIELDS:
            if name not in details and first_values.get(name) not in (None, ""):
                details[name] = {"value": first_values[name], "confidence": 1.0, "evidence": "first row"}
        submission.details = details
        if submission.project is None and "project" in details:
            submission.project = str(details["project"]["value"])
        if "submitter_email" in details and details["submitter_email"].get("value"):
            submission.notify_email = str(details["submitter_email"]["value"])
    await _mark_duplicates_in_file(session, submission)
    await _settle(session, submission, threshold)
    submission.phase = "done"
    submission.rows_parsed = submission.rows_validated = submission.rows_total = submission.row_count
    await _bump(
        session,
        Actor.system(submission.tenant_id, "intake"),
        submission,
        SubmissionEvent.READ,
        data={
            "rows": submission.row_count,
            "errors": submission.error_count,
            "unconfirmed": submission.unconfirmed_count,
            "state": submission.state,
        },
    )


class _RowWriter:
    """Rows in batches: checked against the facility's samples, then written with the progress made."""

    def __init__(self, submission: Submission, threshold: float, into: SessionScope) -> None:
        self.submission = submission
        self.sealer = personal.RowSealer(crypto.installed(), personal.personal_columns(submission.mapping))
        self.threshold = threshold
        self.into = into
        self.buffer: list[validation.RowReading] = []
        self.parsed = 0
        self.reported = 0

    async def add(self, reading: validation.RowReading) -> None:
        self.buffer.append(reading)
        if len(self.buffer) >= BATCH_ROWS:
            await self.flush()

    async def flush(self) -> None:
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        async with self.into() as session:
            await _mark_taken(session, self.submission, batch)
            await insert_rows(
                session,
                SubmissionRow,
                [_row_values(self.submission, reading, self.threshold, self.sealer) for reading in batch],
            )
            self.parsed += len(batch)
            progress = self.parsed - self.reported >= PROGRESS_EVERY_ROWS
            # A progress event is a change of the submission like any other: it takes the next version.
            version = (
                await session.execute(
                    update(Submission)
                    .where(Submission.id == self.submission.id)
                    .values(
                        rows_parsed=self.parsed,
                        rows_validated=self.parsed,
                        version=Submission.version + (1 if progress else 0),
                    )
                    .returning(Submission.version)
                    .execution_options(synchronize_session=False)
                )
            ).scalar_one()
            if progress:
                self.reported = self.parsed
                await record(
                    session,
                    DomainEvent(
                        type=SubmissionEvent.PROGRESS,
                        aggregate_type=AGGREGATE,
                        aggregate_id=self.submission.id,
                        data=_event_data(self.submission, rows_parsed=self.parsed, rows_validated=self.parsed),
                    ),
                    Actor.system(self.submission.tenant_id, "intake"),
                    version=int(version),
                )
                # Known to the session as already stored, so its next UPDATE checks the new version.
                set_committed_value(self.submission, "version", int(version))
        self.submission.rows_parsed = self.submission.rows_validated = self.parsed


def _unconfirmed(confidence: Mapping[str, Any], confirmed: Sequence[str], threshold: float) -> int:
    return sum(
        1 for name, seen in confidence.items() if float(seen["confidence"]) < threshold and name not in confirmed
    )


def _row_values(
    submission: Submission, reading: validation.RowReading, threshold: float, sealer: personal.RowSealer
) -> dict[str, Any]:
    values = _kept_values(reading.values)
    cells, confidence = sealer.seal(reading.cells, reading.confidence)
    return {
        "id": new_id(),
        "submission_id": submission.id,
        "tenant_id": submission.tenant_id,
        "row_number": reading.row_number,
        "cells": cells,
        "values": values,
        "errors": reading.errors,
        "confidence": confidence,
        "confirmed": [],
        "unconfirmed": _unconfirmed(reading.confidence, [], threshold),
        "name": _short(values.get("name"), 200),
        "barcode": _short(values.get("barcode"), 128),
        "library_barcode": _short(values.get("library_barcode"), 32),
        "error_count": len(reading.errors),
        "version": 1,
    }


def _kept_values(values: Mapping[str, Any]) -> dict[str, Any]:
    # A personal field is no sample's: the submission's sealed details keep it.
    return {
        name: value for name, value in values.items() if value not in (None, "") and name not in mapping.PERSONAL_FIELDS
    }


def _short(value: Any, length: int) -> str | None:
    return str(value)[:length] if value not in (None, "") else None


async def _mark_taken(session: AsyncSession, submission: Submission, batch: Sequence[validation.RowReading]) -> None:
    """Barcodes already on a sample of the facility, and names already used in the same project."""
    barcodes = sorted({str(reading.values["barcode"]) for reading in batch if reading.values.get("barcode")})
    taken = await samples_service.taken_barcodes(session, submission.tenant_id, barcodes)
    by_project: dict[str | None, set[str]] = {}
    for reading in batch:
        if reading.values.get("name"):
            project = reading.values.get("project")
            by_project.setdefault(str(project) if project else None, set()).add(str(reading.values["name"]))
    used: dict[str | None, set[str]] = {}
    for project, names in by_project.items():
        used[project] = await samples_service.taken_names(session, submission.tenant_id, project, sorted(names))
    for reading in batch:
        barcode = reading.values.get("barcode")
        if barcode and str(barcode) in taken:
            reading.error("barcode", f"barcode {barcode!s} is already on a sample of this facility", "taken")
        name = reading.values.get("name")
        project = reading.values.get("project")
        if name and str(name) in used.get(str(project) if project else None, set()):
            where = f"project {project!s}" if project else "samples without a project"
            reading.error("name", f"a sample named {name!s} already exists in {where}", "taken")


async def _mark_duplicates_in_file(
    session: AsyncSession, submission: Submission, only: Mapping[str, set[str]] | None = None
) -> None:
    """Each later row repeating a barcode or name of an earlier row is an error naming that row."""
    submission_id = submission.id
    headings = {str(column["field"]): str(column["column"]) for column in submission.mapping if column["field"]}
    for name in DUPLICATE_FIELDS:
        column = getattr(SubmissionRow, name)
        groups = await repository.duplicate_values(session, submission_id, column)
        if only is not None:
            wanted = only.get(name, set())
            groups = [value for value in groups if value in wanted]
        for value in groups:
            rows = await repository.rows_with(session, submission_id, column, value)
            first = rows[0].row_number
            for row in rows[1:]:
                message = f"same {_FIELD_WORDS[name]} as row {first}"
                if any(error["kind"] == "duplicate" and error["field"] == name for error in row.errors):
                    continue
                _add_error(row, headings.get(name, name), name, str(value), message, "duplicate")


_FIELD_WORDS = {"barcode": "tube barcode", "name": "sample name", "library_barcode": "library barcode"}


def _add_error(row: SubmissionRow, column: str, name: str, value: str, message: str, kind: str) -> None:
    row.errors = [
        *row.errors,
        {"row": row.row_number, "column": column, "field": name, "value": value, "message": message, "kind": kind},
    ]
    row.error_count = len(row.errors)


async def _settle(session: AsyncSession, submission: Submission, threshold: float) -> None:
    await session.flush()
    counts = await repository.counts(session, submission.id)
    submission.row_count, submission.error_count, submission.unconfirmed_count = counts
    if submission.state in OPEN_STATES:
        ready = submission.error_count == 0 and not submission.problems and submission.row_count > 0
        submission.state = SubmissionState.VALIDATED if ready else SubmissionState.DRAFT


async def _bump(
    session: AsyncSession,
    actor: Actor,
    submission: Submission,
    event_type: str,
    *,
    data: Mapping[str, Any] | None = None,
    changes: Mapping[str, tuple[Any, Any]] | None = None,
    reason: str | None = None,
) -> None:
    await _record_change(
        session,
        actor,
        submission,
        DomainEvent(
            type=event_type,
            aggregate_type=AGGREGATE,
            aggregate_id=submission.id,
            data=_event_data(submission, **(data or {})),
            changes=changes or {},
            reason=reason,
        ),
    )


async def _set_state(
    session: AsyncSession,
    actor: Actor,
    submission: Submission,
    state: SubmissionState,
    event_type: str,
    *,
    reason: str | None = None,
    problems: list[dict[str, Any]] | None = None,
    data: Mapping[str, Any] | None = None,
) -> None:
    before = submission.state
    submission.state = state
    if problems is not None:
        submission.problems = problems
    if state in (SubmissionState.COMMITTED, SubmissionState.REJECTED, SubmissionState.CANCELLED):
        submission.decided_by = actor.display
        submission.decided_at = utcnow()
        submission.decision_reason = reason
    await _bump(session, actor, submission, event_type, data=data, changes={"state": (before, state)}, reason=reason)


# ---------------------------------------------------------------- reading back


async def get_submission(session: AsyncSession, actor: Actor, submission_id: uuid.UUID) -> Submission:
    submission = await session.get(Submission, submission_id, populate_existing=True)
    if submission is None or not visible(submission, actor):
        raise SubmissionNotFound(f"No submission {submission_id} here.", submission_id=str(submission_id))
    return submission


async def _load(session: AsyncSession, submission_id: uuid.UUID) -> Submission:
    submission = await session.get(Submission, submission_id, populate_existing=True)
    if submission is None:
        raise SubmissionNotFound(f"No submission {submission_id}.")
    return submission


def visible(submission: Submission, actor: Actor) -> bool:
    """A facility's staff see all its submissions; a submitter sees those of their labs and their own."""
    if submission.tenant_id != actor.tenant_id:
        return False
    if not actor.sees_only_own_labs:
        return True
    mine = submission.submitter_id is not None and submission.submitter_id == actor.user_id
    return mine or (submission.lab_id is not None and submission.lab_id in actor.lab_ids)


async def list_submissions(
    session: AsyncSession, actor: Actor, *, state: str | None, cursor: str | None, limit: int
) -> tuple[list[Submission], str | None]:
    return await repository.page(session, actor, state=state, cursor=cursor, limit=limit)


async def submission_rows(
    session: AsyncSession,
    actor: Actor,
    submission_id: uuid.UUID,
    *,
    after: int,
    limit: int,
    only_problems: bool,
) -> tuple[Submission, list[SubmissionRow]]:
    submission = await get_submission(session, actor, submission_id)
    rows = await repository.rows_page(session, submission.id, after=after, limit=limit, only_problems=only_problems)
    return submission, rows


# ---------------------------------------------------------------- review


async def correct_row(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    submission_id: uuid.UUID,
    row_number: int,
    body: RowCorrection,
    if_match: str | None,
) -> tuple[Submission, SubmissionRow]:
    """Change cells of one row and/or confirm low-confidence readings; the row is validated again at once."""
    submission = await _open_submission(session, actor, submission_id, if_match, required=True)
    row = await repository.row(session, submission.id, row_number)
    if row is None:
        raise RowNotFound(f"The submission has no row {row_number}.", row=row_number)
    unknown = [name for name in body.values if name not in mapping.SAMPLE_FIELDS]
    unknown += [name for name in body.confirm if name not in mapping.SAMPLE_FIELDS]
    if unknown:
        raise InvalidCorrection(
            f"Unknown fields: {', '.join(sorted(set(unknown)))}.",
            errors=[{"field": name, "message": "not a sample field"} for name in sorted(set(unknown))],
        )
    threshold = (await read_settings(session, submission.tenant_id, settings)).confidence_threshold
    rules = await samples_service.read_settings(session, submission.tenant_id)
    columns = {column["field"]: index for index, column in enumerate(submission.mapping) if column["field"]}
    cells = list(row.cells)
    values = dict(row.values)
    confidence = dict(row.confidence)
    changes: dict[str, tuple[Any, Any]] = {}
    touched: dict[str, set[str]] = {}
    for name, new in body.values.items():
        text = "" if new is None else str(new)
        old = values.get(name)
        for tracked in DUPLICATE_FIELDS:
            if tracked == name:
                touched.setdefault(name, set()).update({str(v) for v in (old, new) if v not in (None, "")})
        if name in columns:
            index = columns[name]
            while len(cells) <= index:
                cells.append("")
            cells[index] = text
        # A person typed it: it is what they mean, whatever the form said.
        confidence.pop(name, None)
        changes[name] = (old, new)
        values[name] = text
    mappings = stored_mappings(submission)
    # Read again from the corrected cells, with the corrected non-column values as answers.
    extra = {
        name: {"value": value, "confidence": confidence.get(name, {}).get("confidence", 1.0), "label": name}
        for name, value in values.items()
        if name not in columns
    }
    reading = validation.read_row(row.row_number, cells, mappings, extra, submission.decimal_comma)
    for name in body.values:
        if name not in columns:
            value, _conf, problem = validation.read_cell(name, str(values[name]), None, submission.decimal_comma)
            if value is None:
                reading.values.pop(name, None)
            else:
                reading.values[name] = value
            if problem is not None:
                reading.error(name, problem)
    for name, seen in confidence.items():
        if name not in body.values:
            reading.confidence[name] = seen
    validation.check(reading, rules.billing_code_pattern)
    await _mark_taken(session, submission, [reading])
    confirmed = sorted({*row.confirmed, *body.confirm} - set(body.values))
    if body.confirm:
        changes["confirmed"] = (list(row.confirmed), confirmed)
    sealer = personal.RowSealer(crypto.installed(), personal.personal_columns(submission.mapping))
    row.cells, row.confidence = sealer.seal(reading.cells, reading.confidence)
    row.values = _kept_values(reading.values)
    row.errors = reading.errors
    row.error_count = len(reading.errors)
    row.confirmed = confirmed
    row.unconfirmed = _unconfirmed(reading.confidence, confirmed, threshold)
    row.name = _short(row.values.get("name"), 200)
    row.barcode = _short(row.values.get("barcode"), 128)
    row.library_barcode = _short(row.values.get("library_barcode"), 32)
    row.version += 1
    await session.flush()
    # Stored sealed; the row in hand (and the answer built from it) keeps the plain cells.
    set_committed_value(row, "cells", reading.cells)
    set_committed_value(row, "confidence", reading.confidence)
    if touched:
        await _refresh_duplicates(session, submission, touched)
    await _settle(session, submission, threshold)
    await _bump(
        session,
        actor,
        submission,
        SubmissionEvent.CORRECTED,
        data={"row": row.row_number, "state": submission.state, "errors": submission.error_count},
        changes={f"rows.{row.row_number}.{name}": change for name, change in changes.items()},
    )
    return submission, row


async def _refresh_duplicates(session: AsyncSession, submission: Submission, touched: Mapping[str, set[str]]) -> None:
    """Duplicate errors of rows sharing a value a correction changed are worked out again."""
    for name, values in touched.items():
        column = getattr(SubmissionRow, name)
        for value in values:
            for row in await repository.rows_with(session, submission.id, column, value):
                kept = [e for e in row.errors if not (e["kind"] == "duplicate" and e["field"] == name)]
                if len(kept) != len(row.errors):
                    row.errors = kept
                    row.error_count = len(kept)
    await session.flush()
    await _mark_duplicates_in_file(session, submission, only=touched)


async def _open_submission(
    session: AsyncSession, actor: Actor, submission_id: uuid.UUID, if_match: str | None, *, required: bool
) -> Submission:
    """The submission about to change: the caller's version of it, and still open to changes."""
    submission = await get_submission(session, actor, submission_id)
    check_if_match(if_match, submission.id, submission.version, required=required)
    _refuse_unless_open(submission)
    return submission


def _refuse_unless_open(submission: Submission) -> None:
    if submission.state == SubmissionState.COMMITTED:
        raise AlreadyCommitted(
            f"The submission was committed ({submission.samples_created} samples); it can no longer change.",
            samples_created=submission.samples_created,
        )
    if submission.state not in OPEN_STATES:
        raise SubmissionClosed(
            f"The submission is {submission.state}; it can no longer change.", state=submission.state
        )
    if submission.phase != "done":
        raise NotReadyToCommit("The file is still being read; wait until it is done.", phase=submission.phase)


async def reject(
    session: AsyncSession, actor: Actor, submission_id: uuid.UUID, reason: str, if_match: str | None
) -> Submission:
    submission = await _open_submission(session, actor, submission_id, if_match, required=False)
    await _set_state(session, actor, submission, SubmissionState.REJECTED, SubmissionEvent.REJECTED, reason=reason)
    await notify(session, submission, accepted=False)
    return submission


async def cancel(session: AsyncSession, actor: Actor, submission_id: uuid.UUID, if_match: str | None) -> Submission:
    submission = await get_submission(session, actor, submission_id)
    check_if_match(if_match, submission.id, submission.version, required=False)
    if actor.sees_only_own_labs and submission.submitter_id != actor.user_id:
        raise Forbidden("Only the person who submitted it can withdraw a submission.")
    _refuse_unless_open(submission)
    await _set_state(session, actor, submission, SubmissionState.CANCELLED, SubmissionEvent.CANCELLED)
    return submission


async def notify(session: AsyncSession, submission: Submission, *, accepted: bool) -> None:
    """E-mail the submitter the decision, through the e-mail outbox (a job sent after commit)."""
    if not submission.notify_email:
        return
    from seqtrack.integrations.email import SEND_TASK
    from seqtrack.jobs import service as jobs_service

    label = submission.file_name or f"submission {submission.id}"
    if accepted:
        subject = f"[SeqTrack] Your submission {label} was accepted"
        body = (
            f"Your submission {label} was accepted: {submission.samples_created} samples are now registered.\n"
            f"Decided by {submission.decided_by} at {submission.decided_at}.\n"
        )
    else:
        subject = f"[SeqTrack] Your submission {label} was not accepted"
        body = f"Your submission {label} was not accepted.\nReason: {submission.decision_reason or '-'}\n"
    await jobs_service.enqueue(
        session,
        SEND_TASK,
        # Sealed: the job ledger keeps arguments (and dead letters) for days.
        {"to": crypto.seal(submission.notify_email), "subject": subject, "body": body},
        tenant_id=submission.tenant_id,
    )


# ---------------------------------------------------------------- the web order form


async def submit_order(database: Database, settings: Settings, actor: Actor, body: OrderIn) -> Submission:
    """A submitter's order typed into the web form: the same checks as a file; refused whole when any row fails."""
    async with database.read_session() as session:
        await _check_lab(session, actor, body.lab_id)
    columns = list(mapping.SAMPLE_FIELDS)
    rows: list[tuple[int, list[str]]] = []
    for number, sample in enumerate(body.samples, start=1):
        given = sample.model_dump(exclude_none=True)
        rows.append((number, ["" if given.get(name) is None else str(given[name]) for name in columns]))
    details: dict[str, dict[str, Any]] = {}
    for name in ("project", "billing_code", "submitter_name", "submitter_email"):
        value = getattr(body, name)
        if value:
            details[name] = {"value": str(value), "confidence": 1.0, "evidence": "order form", "label": name}
    source = Source(
        "form",
        columns,
        [mapping.ColumnMapping(name, name) for name in columns],
        iter(rows),
        details,
        None,
    )
    async with database.write_session() as session:
        submission = await _new_submission(
            session, actor, settings, source, None, file_name=None, lab_id=body.lab_id, project=body.project
        )
        await _read(session, submission, source, settings, into=_same_session(session))
        if submission.error_count:
            errors = [
                {**error, "sample": error["row"]}
                for row in await repository.rows_with_errors(session, submission.id)
                for error in row.errors
            ]
            raise InvalidOrder(
                f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in the order; nothing was submitted.",
                errors=errors,
            )
        return submission


# ---------------------------------------------------------------- commit


def actor_context(actor: Actor) -> dict[str, Any]:
    return {
        "tenant_id": str(actor.tenant_id),
        "kind": actor.kind,
        "principal_id": str(actor.principal_id) if actor.principal_id else None,
        "user_id": str(actor.user_id) if actor.user_id else None,
        "display": actor.display,
        "role": actor.role.value if actor.role else None,
        "lab_ids": sorted(str(lab) for lab in actor.lab_ids),
    }


def actor_from(context: Mapping[str, Any]) -> Actor:
    from seqtrack.identity.permissions import Role, permissions_for

    role = Role(context["role"]) if context.get("role") else None
    return Actor(
        tenant_id=uuid.UUID(context["tenant_id"]),
        kind=context["kind"],
        principal_id=uuid.UUID(context["principal_id"]) if context.get("principal_id") else None,
        user_id=uuid.UUID(context["user_id"]) if context.get("user_id") else None,
        display=str(context["display"]),
        role=role,
        permissions=permissions_for(role) if role else Actor.system(uuid.UUID(int=0)).permissions,
        lab_ids=frozenset(uuid.UUID(lab) for lab in context.get("lab_ids", [])),
    )


def check_ready(submission: Submission) -> None:
    if submission.state == SubmissionState.COMMITTED:
        raise AlreadyCommitted(
            f"The submission was already committed: {submission.samples_created} samples were created then; "
            "nothing was created now.",
            samples_created=submission.samples_created,
        )
    _refuse_unless_open(submission)
    if submission.error_count or submission.state != SubmissionState.VALIDATED:
        raise NotReadyToCommit(
            f"{submission.error_count} problems must be fixed before the submission can be committed.",
            errors=submission.error_count,
        )
    if submission.unconfirmed_count:
        raise NotReadyToCommit(
            f"{submission.unconfirmed_count} fields were read with low confidence and must be confirmed first.",
            unconfirmed=submission.unconfirmed_count,
        )


# ---------------------------------------------------------------- the column mapping


def stored_mappings(submission: Submission) -> list[mapping.ColumnMapping]:
    """The fields the submission's file columns are read as, as last chosen (by the reader or a person)."""
    return [
        mapping.ColumnMapping(
            str(column["column"]), column["field"], column.get("unit"), float(column.get("factor", 1))
        )
        for column in submission.mapping
    ]


def _chosen_mappings(submission: Submission, chosen: Mapping[str, str | None]) -> list[mapping.ColumnMapping]:
    """The mapping with a person's choices applied; refused naming each column that cannot be read so."""
    if submission.source not in ("csv", "xlsx"):
        raise MappingFixed(
            "Only a spreadsheet's columns can be mapped again; this submission's fields were read from "
            f"{'the order form' if submission.source == 'form' else 'a PDF form'}.",
            source=submission.source,
        )
    errors = [
        {"column": name, "field": field, "message": "no such column in the file"}
        for name, field in chosen.items()
        if name not in submission.columns
    ]
    errors += [
        {"column": name, "field": field, "message": f"{field} is not a field a column can be read as"}
        for name, field in chosen.items()
        if field is not None and field not in mapping.MAPPABLE_FIELDS
    ]
    if errors:
        raise InvalidMapping(_mapping_refusal(errors), errors=errors)
    mappings = [
        mapping.map_column_to(column.column, chosen[column.column]) if column.column in chosen else column
        for column in stored_mappings(submission)
    ]
    seen: dict[str, str] = {}
    for column in mappings:
        if column.field is None:
            continue
        if column.field in seen:
            errors.append(
                {
                    "column": column.column,
                    "field": column.field,
                    "message": f"{column.field} is already read from column {seen[column.field]!r}",
                }
            )
        seen.setdefault(column.field, column.column)
    if errors:
        raise InvalidMapping(_mapping_refusal(errors), errors=errors)
    return mappings


def _mapping_refusal(errors: Sequence[Mapping[str, Any]]) -> str:
    named = "; ".join(f"column {error['column']!r}: {error['message']}" for error in errors)
    return f"The column mapping was not changed: {named}."


async def change_mapping(
    database: Database,
    settings: Settings,
    actor: Actor,
    submission_id: uuid.UUID,
    chosen: Mapping[str, str | None],
    if_match: str | None,
) -> Submission:
    """Read the file's columns as a person chose, and every row again from the stored file under it.

    Corrections typed into rows are lost: the rows are the file's again. A large
    file is read again by the same background job that read it the first time.
    """
    async with database.read_session() as session:
        submission = await _open_submission(session, actor, submission_id, if_match, required=True)
        mappings = _chosen_mappings(submission, chosen)
    if (submission.file_size or 0) > settings.intake_background_bytes:
        return await _remap(database, settings, actor, submission_id, mappings, if_match, None)
    async with files.opened_copy(settings, database.keyring, submission.file_sha256 or "") as path:
        # The slow part, before the unit of work opens.
        source = await asyncio.to_thread(open_source, path, submission.source)
        source.mappings = mappings
        return await _remap(database, settings, actor, submission_id, mappings, if_match, source)


async def _remap(
    database: Database,
    settings: Settings,
    actor: Actor,
    submission_id: uuid.UUID,
    mappings: list[mapping.ColumnMapping],
    if_match: str | None,
    source: Source | None,
) -> Submission:
    """The rows read again under ``mappings``: from ``source``, or by the background job when it is None."""
    background = source is None
    async with database.write_session() as session:
        submission = await _open_submission(session, actor, submission_id, if_match, required=True)
        before = {str(column["column"]): column["field"] for column in submission.mapping}
        changes = {
            f"mapping.{column.column}": (before.get(column.column), column.field)
            for column in mappings
            if before.get(column.column) != column.field
        }
        if not changes:
            return submission
        submission.mapping = [column.as_json() for column in mappings]
        # Facts taken from the first row under the old mapping are read again under the new one.
        from_rows = [name for name, answer in submission.details.items() if answer.get("evidence") == "first row"]
        submission.details = {name: answer for name, answer in submission.details.items() if name not in from_rows}
        if "project" in from_rows:
            submission.project = None
        submission.state = SubmissionState.DRAFT
        submission.phase = "queued" if background else "reading"
        submission.rows_parsed = submission.rows_validated = 0
        submission.rows_total = None
        await _bump(
            session,
            actor,
            submission,
            SubmissionEvent.MAPPING_CHANGED,
            data={"columns": {name[len("mapping.") :]: new for name, (_old, new) in changes.items()}},
            changes=changes,
        )
        await repository.delete_rows(session, submission.id)
        if source is None:
            await _read_later(session, submission, settings)
            return submission
        await _read(session, submission, source, settings, into=_same_session(session))
        return submission
