"""Submissions, their rows as read and validated, and each facility's intake rules."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from seqtrack.platform.crypto import EncryptedJSON, EncryptedText, PartlySealedJSON
from seqtrack.platform.models import Base, FacilityRecord, FacilitySettings, IdMixin, OptimisticLock, keyset_indexes

__all__ = ["IntakeSettings", "Submission", "SubmissionRow"]


class Submission(OptimisticLock, FacilityRecord):
    __tablename__ = "submissions"
    __table_args__ = (*keyset_indexes(__tablename__, created="created_at", submitter="submitter_id", state="state"),)

    lab_id: Mapped[uuid.UUID | None]
    project: Mapped[str | None] = mapped_column(String(200))
    submitter_id: Mapped[uuid.UUID | None]
    submitter_display: Mapped[str] = mapped_column(String(320))
    # Where the accept/reject e-mail goes: the form's e-mail, else the uploader's.
    notify_email: Mapped[str | None] = mapped_column(EncryptedText())
    source: Mapped[str] = mapped_column(String(8))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    # Parsing progress; while a background job reads a large file the API shows it.
    phase: Mapped[str] = mapped_column(String(16))
    rows_parsed: Mapped[int] = mapped_column(Integer, default=0)
    rows_validated: Mapped[int] = mapped_column(Integer, default=0)
    rows_total: Mapped[int | None] = mapped_column(Integer)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    unconfirmed_count: Mapped[int] = mapped_column(Integer, default=0)
    # The file's own columns in order, and for each the field it was read as (null: ignored).
    columns: Mapped[list[str]] = mapped_column(JSON)
    mapping: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    header_row: Mapped[int | None] = mapped_column(Integer)
    # Whether the file writes "1,500" for 1.5 (corrections are read by the same convention).
    decimal_comma: Mapped[bool]
    # Submission-wide fields (a form's header block, a PDF's request): value, confidence, evidence.
    # Sealed whole: the submitter's address and phone are in it, and quoted again in the evidence.
    details: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON())
    # Problems with the file as a whole (not any one row).
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    extractor: Mapped[str | None] = mapped_column(String(32))
    job_id: Mapped[uuid.UUID | None]
    saga_id: Mapped[uuid.UUID | None]
    samples_created: Mapped[int] = mapped_column(Integer, default=0)
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # The Idempotency-Key of the commit that was accepted: the same key again gets the same answer.
    commit_key: Mapped[str | None] = mapped_column(String(200))


class SubmissionRow(IdMixin, Base):
    """One sample as read from the file: its values, what is wrong, how sure the reading is."""

    __tablename__ = "submission_rows"
    __table_args__ = (
        UniqueConstraint("submission_id", "row_number"),
        Index("ix_submission_rows_barcode", "submission_id", "barcode"),
        Index("ix_submission_rows_name", "submission_id", "name"),
        Index("ix_submission_rows_library_barcode", "submission_id", "library_barcode"),
    )

    submission_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    tenant_id: Mapped[uuid.UUID]
    # The row's number as a spreadsheet shows it (the header is a row too).
    row_number: Mapped[int]
    # The cells as written, in the file's column order, for the error report in the submitter's layout;
    # those of personal columns sealed (intake/personal.py).
    cells: Mapped[list[str]] = mapped_column(PartlySealedJSON())
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # Only fields read with less than full confidence appear: {field: {confidence, evidence}}.
    confidence: Mapped[dict[str, Any]] = mapped_column(PartlySealedJSON())
    confirmed: Mapped[list[str]] = mapped_column(JSON)
    # Copies of the values duplicates are looked for by, indexed.
    name: Mapped[str | None] = mapped_column(String(200))
    barcode: Mapped[str | None] = mapped_column(String(128))
    library_barcode: Mapped[str | None] = mapped_column(String(32))
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    # Readings under the facility's confidence threshold that nobody has confirmed yet.
    unconfirmed: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)


class IntakeSettings(FacilitySettings):
    """A facility's intake rules; the defaults until someone changes them."""

    __tablename__ = "intake_settings"

    # Fields read with less confidence than this must be confirmed by a person before commit.
    confidence_threshold: Mapped[float] = mapped_column(Float)
