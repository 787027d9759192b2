"""What every request body shares: text that both databases can store."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, field_validator

# Pydantic also reads a number as seconds since 1970, so `due_to=0` would quietly mean
# 1 January 1970; dates and times in SeqTrack's API are written the ISO 8601 way only.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
# One regular-expression scan, not a Python loop per character: every text of every write passes here.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _written_as(pattern: re.Pattern[str], form: str) -> Callable[[Any], Any]:
    """A check that a value is text matching ``pattern``, the refusal naming the ``form`` wanted."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and not pattern.match(value):
            raise ValueError(f"must be {form}")
        if isinstance(value, int | float):
            raise ValueError(f"must be {form}, not a number")
        return value

    return check


IsoDate = Annotated[date, BeforeValidator(_written_as(_ISO_DATE, "a date written YYYY-MM-DD"))]
IsoDateTime = Annotated[
    datetime, BeforeValidator(_written_as(_ISO_DATETIME, "an ISO 8601 time such as 2026-03-01T09:30:00Z"))
]


def storable(text: str) -> bool:
    """Text both databases can keep and the audit hash can encode.

    PostgreSQL refuses NUL (U+0000) in text and JSON, and a lone UTF-16
    surrogate (which stdlib JSON decodes from "\\ud800") cannot be encoded as
    UTF-8 at all: either would fail a transaction with a 500 instead of a 422.
    """
    return _UNSTORABLE.search(text) is None


def _all_storable(value: Any) -> bool:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return all(_all_storable(key) and _all_storable(item) for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return all(_all_storable(item) for item in value)
    return True


class Incoming(BaseModel):
    """Base of every request body: refuses unstorable text, naming the field."""

    @field_validator("*", mode="after")
    @classmethod
    def _only_storable_text(cls, value: Any) -> Any:
        if not _all_storable(value):
            raise ValueError("contains a NUL character or an unpaired surrogate, which cannot be stored")
        return value
