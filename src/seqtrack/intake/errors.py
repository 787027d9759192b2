"""What the intake domain refuses, free of HTTP."""

from __future__ import annotations

from seqtrack.platform.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    RuleViolation,
    Unavailable,
    UnsupportedMediaType,
)


class SubmissionNotFound(NotFound, code="intake.not_found", title="Submission not found"): ...


class RowNotFound(NotFound, code="intake.row_not_found", title="Submission row not found"): ...


class FileTooLarge(PayloadTooLarge, code="intake.file_too_large", title="File too large"): ...


class UnsupportedFile(UnsupportedMediaType, code="intake.unsupported_file", title="Not a CSV, XLSX or PDF form"): ...


class FileRefused(RuleViolation, code="intake.file_refused", title="File cannot be read"):
    """The file as a whole cannot be read as a submission (empty, no header, zip bomb, mixed encodings)."""


class InvalidCorrection(InvalidInput, code="intake.invalid_correction"): ...


class SubmissionChanged(PreconditionFailed, code="intake.changed", title="Submission changed since it was read"): ...


class NotReadyToCommit(Conflict, code="intake.not_ready", title="Submission cannot be committed yet"): ...


class AlreadyCommitted(Conflict, code="intake.already_committed", title="Submission already committed"): ...


class SubmissionClosed(Conflict, code="intake.closed", title="Submission is closed"): ...


class InvalidOrder(InvalidInput, code="intake.invalid_order"): ...


class ExtractorUnavailable(Unavailable, code="intake.extractor_unavailable", title="Extractor unavailable"): ...


class InvalidMapping(InvalidInput, code="intake.invalid_mapping", title="Column mapping refused"): ...


class MappingFixed(Conflict, code="intake.mapping_fixed", title="Column mapping cannot change"): ...
