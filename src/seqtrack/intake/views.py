"""How submissions and their rows are shown by the API (and the web pages)."""

from __future__ import annotations

from typing import Any

from seqtrack.intake.models import Submission, SubmissionRow


def submission_document(submission: Submission) -> dict[str, Any]:
    return {
        "id": str(submission.id),
        "state": submission.state,
        "source": submission.source,
        "file_name": submission.file_name,
        "file_sha256": submission.file_sha256,
        "file_size": submission.file_size,
        "lab_id": str(submission.lab_id) if submission.lab_id else None,
        "project": submission.project,
        "submitter_id": str(submission.submitter_id) if submission.submitter_id else None,
        "submitter_display": submission.submitter_display,
        "row_count": submission.row_count,
        "error_count": submission.error_count,
        "unconfirmed_count": submission.unconfirmed_count,
        "header_row": submission.header_row,
        "mapping": submission.mapping,
        "details": submission.details,
        "problems": submission.problems,
        "extractor": submission.extractor,
        "progress": {
            "phase": submission.phase,
            "rows_parsed": submission.rows_parsed,
            "rows_validated": submission.rows_validated,
            "rows_total": submission.rows_total,
        },
        "samples_created": submission.samples_created,
        "decided_by": submission.decided_by,
        "decided_at": submission.decided_at.isoformat() if submission.decided_at else None,
        "decision_reason": submission.decision_reason,
        "created_at": submission.created_at.isoformat(),
        "updated_at": submission.updated_at.isoformat(),
        "version": submission.version,
    }


def submission_with_times(submission: Submission) -> dict[str, Any]:
    """The API's document of the submission, its times kept as times for a page to write as it likes."""
    return {
        **submission_document(submission),
        "created_at": submission.created_at,
        "decided_at": submission.decided_at,
    }


def row_document(row: SubmissionRow, threshold: float) -> dict[str, Any]:
    return {
        "row": row.row_number,
        "cells": row.cells,
        "values": row.values,
        "errors": row.errors,
        "confidence": row.confidence,
        "confirmed": row.confirmed,
        "needs_confirmation": sorted(
            name
            for name, seen in row.confidence.items()
            if float(seen["confidence"]) < threshold and name not in row.confirmed
        ),
    }
