"""What every request body shares: text that both databases can store."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator


def storable(text: str) -> bool:
    """Text both databases can keep and the audit hash can encode.

    PostgreSQL refuses NUL (U+0000) in text and JSON, and a lone UTF-16
    surrogate (which stdlib JSON decodes from "\\ud800") cannot be encoded as
    UTF-8 at all: either would fail a transaction with a 500 instead of a 422.
    """
    return "\x00" not in text and not any("\ud800" <= char <= "\udfff" for char in text)


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
