"""The events the intake domain emits; the live feed shows them to the submission's lab."""

from __future__ import annotations

from enum import StrEnum

AGGREGATE = "submission"


class SubmissionEvent(StrEnum):
    CREATED = "submission.created"
    # data: rows parsed and validated so far, while a job reads a large file
    PROGRESS = "submission.progress"
    # data: rows, errors, unconfirmed, state once the whole file is read
    READ = "submission.read"
    CORRECTED = "submission.corrected"
    # changes: each column whose field a person changed; the rows are read again under it
    MAPPING_CHANGED = "submission.mapping_changed"
    COMMIT_STARTED = "submission.commit_started"
    COMMIT_FAILED = "submission.commit_failed"
    COMMITTED = "submission.committed"
    REJECTED = "submission.rejected"
    CANCELLED = "submission.cancelled"
    SETTINGS_UPDATED = "intake_settings.updated"
