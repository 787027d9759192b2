"""What every form handler needs: where to go next, and a refusal turned into words beside its fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pydantic import ValidationError

from seqtrack.platform.errors import DomainError


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: a sign-in link must not send anyone elsewhere."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


@dataclass
class FormProblem:
    """A refused form: the message above it, and one message per field beside the field."""

    message: str
    fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, error: DomainError) -> FormProblem:
        fields: dict[str, str] = {}
        for item in error.extra.get("errors") or []:
            if isinstance(item, dict) and item.get("field"):
                fields[str(item["field"])] = str(item.get("message", "invalid"))
        if isinstance(error.extra.get("field"), str):
            fields[error.extra["field"]] = error.detail
        return cls(error.detail, fields)

    @classmethod
    def from_validation(cls, error: ValidationError) -> FormProblem:
        details = error.errors(include_url=False)
        fields = {str(detail["loc"][-1]): detail["msg"] for detail in details if detail["loc"]}
        return cls("Some fields need attention.", fields)
