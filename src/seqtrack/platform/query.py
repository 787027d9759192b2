"""Query strings are read strictly: a parameter a route does not declare is refused, not ignored.

``statuss=qc`` on a list route would otherwise list everything, and the caller
would never learn that the filter was misspelt.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import overload

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

# Kept on the route itself: its parameters never change once the app is built.
_DECLARED = "_seqtrack_query_parameters"


def _names(dependant: Dependant) -> Iterator[str]:
    for param in dependant.query_params:
        annotation = param.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            # A query model (the samples filters) names each of its fields.
            yield from (field.alias or name for name, field in annotation.model_fields.items())
        else:
            yield param.alias
    for sub in dependant.dependencies:
        yield from _names(sub)


def declared_query_parameters(route: object) -> frozenset[str] | None:
    """The query parameters ``route`` reads; None for a route that is not a FastAPI endpoint."""
    known: frozenset[str] | None = getattr(route, _DECLARED, None)
    if known is None:
        dependant: Dependant | None = getattr(route, "dependant", None)
        if dependant is None:
            return None
        known = frozenset(_names(dependant))
        setattr(route, _DECLARED, known)
    return known


async def refuse_unknown_query_parameters(request: Request) -> None:
    """A 422 naming each query parameter the matched route does not declare."""
    if not request.query_params:
        return
    known = declared_query_parameters(request.scope.get("route"))
    if known is None:
        return
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": "Extra inputs are not permitted",
                    "input": request.query_params[name],
                }
                for name in unknown
            ]
        )


@overload
def utc_if_naive(value: datetime) -> datetime: ...
@overload
def utc_if_naive(value: None) -> None: ...
def utc_if_naive(value: datetime | None) -> datetime | None:
    """A time without a zone in a query string is read as UTC, the zone SeqTrack stores."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
