"""The kinds of failure a domain can report, free of HTTP.

Domains declare theirs in one line, naming the kind, the code and (unless the
kind's own serves) the title: ``class SampleNotFound(NotFound, code="sample.not_found",
title="Sample not found"): ...``; only ``platform/problems.py`` decides what a client sees.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "error"
    title: ClassVar[str] = "Request failed"

    def __init_subclass__(cls, *, code: str | None = None, title: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
        if title is not None:
            cls.title = title

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError, code="not_found", title="Not found"): ...


class Unauthenticated(DomainError, code="unauthenticated", title="Authentication required"): ...


class Forbidden(DomainError, code="forbidden", title="Forbidden"): ...


class Conflict(DomainError, code="conflict", title="Conflict"): ...


class RuleViolation(DomainError, code="rule_violation", title="Unprocessable request"):
    """Well-formed input that a business rule refuses."""


class InvalidInput(DomainError, code="invalid_input", title="Invalid input"):
    """Input that fails validation the schema could not express; names its fields."""

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail, errors=errors or [])


class PreconditionFailed(DomainError, code="precondition_failed", title="Precondition failed"): ...


class PreconditionRequired(DomainError, code="precondition_required", title="Precondition required"): ...


class TooManyRequests(DomainError, code="rate_limited", title="Too many requests"):
    def __init__(self, detail: str, retry_after_seconds: int, limit: int | None = None) -> None:
        super().__init__(detail, retry_after=retry_after_seconds)
        self.retry_after_seconds = retry_after_seconds
        self.limit = limit


class Unavailable(DomainError, code="unavailable", title="Service unavailable"): ...


class PayloadTooLarge(DomainError, code="payload_too_large", title="Request body too large"): ...


class UnsupportedMediaType(DomainError, code="unsupported_media_type", title="Unsupported media type"): ...
