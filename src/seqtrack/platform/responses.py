"""JSON answers serialised once, straight to bytes.

A read route that has its rows in hand encodes them with orjson and returns the
bytes; FastAPI's response model then documents the shape in OpenAPI without
validating every row a second time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi.responses import Response, StreamingResponse

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"

# Timestamps end in "Z", as pydantic writes them: clients see one format from every route.
_OPTIONS = orjson.OPT_UTC_Z


def _fallback(value: Any) -> Any:
    # asyncpg hands back its own UUID subclass, which orjson does not take for a UUID.
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_bytes(content: Any) -> bytes:
    return orjson.dumps(content, default=_fallback, option=_OPTIONS)


def plain_json(content: Any) -> Any:
    """``content`` as plain JSON values (strings for UUIDs and times), for storing in a JSON column."""
    return orjson.loads(json_bytes(content))


class JsonBytes(Response):
    """An ``application/json`` response whose content is encoded by orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else json_bytes(content)


def _disposition(filename: str, inline: bool) -> dict[str, str]:
    return {"Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{filename}"'}


def download(content: bytes | str, media_type: str, filename: str, *, inline: bool = False) -> Response:
    """A file the browser saves as ``filename`` (or, ``inline``, shows)."""
    return Response(content, media_type=media_type, headers=_disposition(filename, inline))


def streamed_download(
    chunks: AsyncIterator[str] | AsyncIterator[bytes], media_type: str, filename: str
) -> StreamingResponse:
    """A file too large to hold in memory, saved as ``filename`` as it is written."""
    return StreamingResponse(chunks, media_type=media_type, headers=_disposition(filename, False))
