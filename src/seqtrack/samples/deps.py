"""Permission and request-shape dependencies of the samples routes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated

import orjson
from fastapi import Depends, Query, Request
from pydantic import ValidationError

from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission
from seqtrack.platform.deps import WriteSession, get_database
from seqtrack.platform.errors import InvalidInput
from seqtrack.samples import service
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.repository import SampleFilter
from seqtrack.samples.schemas import Priority, SampleType, SignatureIn
from seqtrack.samples.service import PresentedSignature

CanRead = Annotated[Actor, Depends(require(Permission.SAMPLES_READ))]
CanWrite = Annotated[Actor, Depends(require(Permission.SAMPLES_WRITE))]
CanTransition = Annotated[Actor, Depends(require(Permission.SAMPLES_TRANSITION))]
CanExport = Annotated[Actor, Depends(require(Permission.SAMPLES_EXPORT))]
CanRecordQc = Annotated[Actor, Depends(require(Permission.QC_WRITE))]
CanConfigureSamples = Annotated[Actor, Depends(require(Permission.SAMPLES_CONFIGURE))]


def sample_filter(
    status: list[SampleStatus] | None = Query(None, description="Repeat to match any of several states."),
    priority: list[Priority] | None = Query(None),
    sample_type: list[SampleType] | None = Query(None),
    lab_id: uuid.UUID | None = None,
    project: str | None = Query(None, max_length=200),
    submitter_id: uuid.UUID | None = None,
    flow_cell_type: str | None = Query(None, max_length=32),
    assigned_to: uuid.UUID | None = None,
    overdue: bool | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    due_from: date | None = None,
    due_to: date | None = None,
    q: str | None = Query(
        None, min_length=1, max_length=200, description="Text in ID, barcode, name, submitter, organism."
    ),
) -> SampleFilter:
    for name, text in (("q", q), ("project", project), ("flow_cell_type", flow_cell_type)):
        if text is not None and "\x00" in text:
            raise InvalidInput(
                f"{name} contains a NUL character.", errors=[{"field": name, "location": "query", "message": "NUL"}]
            )
    return SampleFilter(
        status=[value.value for value in status or []],
        priority=[value.value for value in priority or []],
        sample_type=[value.value for value in sample_type or []],
        lab_id=lab_id,
        project=project,
        submitter_id=submitter_id,
        flow_cell_type=flow_cell_type,
        assigned_to=assigned_to,
        overdue=overdue,
        created_from=_aware(created_from),
        created_to=_aware(created_to),
        due_from=due_from,
        due_to=due_to,
        q=q,
    )


def _aware(value: datetime | None) -> datetime | None:
    # A time without a zone in a query string is read as UTC, the zone SeqTrack stores.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


Filters = Annotated[SampleFilter, Depends(sample_filter)]


async def _visible(session: WriteSession, actor: Actor, sample_id: uuid.UUID) -> uuid.UUID:
    # Resolved after the permission check and before the body is validated: a
    # sample of another facility (or lab, for a submitter) answers 404 whatever was sent.
    await service.get_sample(session, actor, sample_id)
    return sample_id


async def _sample_to_write(sample_id: uuid.UUID, session: WriteSession, actor: CanWrite) -> uuid.UUID:
    return await _visible(session, actor, sample_id)


async def _presented_signature(request: Request, actor: CanTransition) -> PresentedSignature | None:
    """The body's signature, its password checked before the unit of work opens.

    Read from the raw body because single and bulk moves have bodies of their own
    shape; a body that does not parse is left for the route's validation to refuse.
    """
    try:
        raw = orjson.loads(await request.body())
        signature = (
            SignatureIn.model_validate(raw["signature"]) if isinstance(raw, dict) and raw.get("signature") else None
        )
    except (orjson.JSONDecodeError, ValidationError, TypeError):
        return None
    return await service.present_signature(get_database(request), actor, signature)


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
