"""Permission and request-shape dependencies of the samples routes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from typing import Annotated

import orjson
from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from seqtrack.identity.deps import require
from seqtrack.platform.actor import Actor
from seqtrack.platform.deps import WriteSession, get_database
from seqtrack.platform.pagination import DEFAULT_LIMIT, MAX_LIMIT
from seqtrack.platform.permissions import Permission
from seqtrack.platform.query import utc_if_naive
from seqtrack.platform.schemas import IsoDate, IsoDateTime
from seqtrack.platform.settings_routes import SettingsAccess
from seqtrack.samples import service
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.repository import SampleFilter
from seqtrack.samples.schemas import Priority, SampleType, SignatureIn, SortField
from seqtrack.samples.service import PresentedSignature

CanRead = Annotated[Actor, Depends(require(Permission.SAMPLES_READ))]
CanWrite = Annotated[Actor, Depends(require(Permission.SAMPLES_WRITE))]
CanTransition = Annotated[Actor, Depends(require(Permission.SAMPLES_TRANSITION))]
CanExport = Annotated[Actor, Depends(require(Permission.SAMPLES_EXPORT))]
CanRecordQc = Annotated[Actor, Depends(require(Permission.QC_WRITE))]
# Who may read the facility's sample rules and who may change them.
SETTINGS_ACCESS = SettingsAccess(read=require(Permission.SAMPLES_READ), change=require(Permission.SAMPLES_CONFIGURE))


class SampleQuery(BaseModel):
    """The list and export filters, read from the query string in one validation.

    A parameter the API does not know is refused (422 naming it) rather than
    ignored: ``statuss=qc`` must not quietly list everything.
    """

    model_config = ConfigDict(extra="forbid")

    status: list[SampleStatus] = Field(default_factory=list, description="Repeat to match any of several states.")
    priority: list[Priority] = Field(default_factory=list, description="Repeat to match any of several.")
    sample_type: list[SampleType] = Field(default_factory=list, description="Repeat to match any of several.")
    lab_id: uuid.UUID | None = None
    project: str | None = Field(None, max_length=200, description="Exact, case-sensitive match.")
    submitter_id: uuid.UUID | None = None
    flow_cell_type: str | None = Field(None, max_length=32, description="Exact match, case-insensitive (FLO-MIN114).")
    assigned_to: uuid.UUID | None = None
    overdue: bool | None = None
    created_from: IsoDateTime | None = Field(None, description="Inclusive; a time without a zone is UTC.")
    created_to: IsoDateTime | None = Field(None, description="Exclusive; a time without a zone is UTC.")
    due_from: IsoDate | None = Field(None, description="Requested due date (YYYY-MM-DD), inclusive.")
    due_to: IsoDate | None = Field(None, description="Requested due date (YYYY-MM-DD), inclusive.")
    q: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Case-insensitive substring of the ID, barcode, name, submitter or organism.",
    )
    sort: SortField = "-created_at"


class SamplePageQuery(SampleQuery):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, max_length=1000)


def sample_filter(query: SampleQuery) -> SampleFilter:
    # Each filter is the query field of the same name (the sort and the page are not filters).
    # NUL in a query string never gets here: UrlHygieneMiddleware refuses it naming the parameter.
    wanted = query.model_dump(include={field.name for field in fields(SampleFilter)})
    return SampleFilter(
        **wanted | {"created_from": utc_if_naive(query.created_from), "created_to": utc_if_naive(query.created_to)}
    )


@dataclass(frozen=True)
class PageRequest:
    filters: SampleFilter
    sort: str
    limit: int
    cursor: str | None


async def _page_request(query: Annotated[SamplePageQuery, Query()]) -> PageRequest:
    return PageRequest(sample_filter(query), query.sort, query.limit, query.cursor)


async def _export_request(query: Annotated[SampleQuery, Query()]) -> tuple[SampleFilter, str]:
    return sample_filter(query), query.sort


ListRequest = Annotated[PageRequest, Depends(_page_request)]
ExportRequest = Annotated[tuple[SampleFilter, str], Depends(_export_request)]


async def _visible(session: WriteSession, actor: Actor, sample_id: uuid.UUID) -> uuid.UUID:
    # Resolved after the permission check and before the body is validated: a
    # sample of another facility (or lab, for a submitter) answers 404 whatever was sent.
    await service.get_sample(session, actor, sample_id)
    return sample_id


async def _sample_to_write(sample_id: uuid.UUID, session: WriteSession, actor: CanWrite) -> uuid.UUID:
    return await _visible(session, actor, sample_id)


async def signature_in_body(request: Request, actor: Actor) -> PresentedSignature | None:
    """The body's signature, its password checked before the unit of work opens.

    Read from the raw body because every signed move (one sample, many, a run's
    start) has a body of its own shape; a body that does not parse is left for
    the route's validation to refuse.
    """
    try:
        raw = orjson.loads(await request.body())
        signature = (
            SignatureIn.model_validate(raw["signature"]) if isinstance(raw, dict) and raw.get("signature") else None
        )
    except (orjson.JSONDecodeError, ValidationError, TypeError):
        return None
    return await service.present_signature(get_database(request), actor, signature)


async def _presented_signature(request: Request, actor: CanTransition) -> PresentedSignature | None:
    return await signature_in_body(request, actor)


Signature = Annotated[PresentedSignature | None, Depends(_presented_signature)]


async def _sample_to_transition(
    sample_id: uuid.UUID, _signature: Signature, session: WriteSession, actor: CanTransition
) -> uuid.UUID:
    # The signature is checked first: its argon2 must not run inside the unit of work this opens.
    return await _visible(session, actor, sample_id)


async def _sample_to_measure(sample_id: uuid.UUID, session: WriteSession, actor: CanRecordQc) -> uuid.UUID:
    return await _visible(session, actor, sample_id)


SampleToWrite = Annotated[uuid.UUID, Depends(_sample_to_write)]
SampleToTransition = Annotated[uuid.UUID, Depends(_sample_to_transition)]
SampleToMeasure = Annotated[uuid.UUID, Depends(_sample_to_measure)]
