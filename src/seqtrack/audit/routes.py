"""``GET /api/v1/audit``: the tenant's trail, newest first, filterable, keyset-paged."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from seqtrack.audit import service
from seqtrack.audit.repository import TrailFilters
from seqtrack.audit.schemas import AuditEntryOut
from seqtrack.identity.deps import require
from seqtrack.platform.actor import Actor
from seqtrack.platform.deps import ReadSession
from seqtrack.platform.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from seqtrack.platform.permissions import Permission
from seqtrack.platform.schemas import IsoDateTime

router = APIRouter(prefix="/audit", tags=["audit"])

CanReadAudit = Annotated[Actor, Depends(require(Permission.AUDIT_READ))]


def trail_filters(
    entity_type: str | None = Query(None, max_length=40, description="Exact, case-sensitive match (sample, user)."),
    entity_id: uuid.UUID | None = None,
    action: str | None = Query(
        None, max_length=80, description="Exact, case-sensitive event type (sample.status_changed)."
    ),
    actor_id: uuid.UUID | None = None,
    occurred_from: IsoDateTime | None = None,
    occurred_to: IsoDateTime | None = None,
) -> TrailFilters:
    return TrailFilters(entity_type, entity_id, action, actor_id, occurred_from, occurred_to)


@router.get("", response_model=Page[AuditEntryOut])
async def list_audit_entries(
    session: ReadSession,
    actor: CanReadAudit,
    filters: Annotated[TrailFilters, Depends(trail_filters)],
    order: Literal["asc", "desc"] = "desc",
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(None, max_length=1000),
) -> Page[AuditEntryOut]:
    """Who did what, when, old → new, and why — for this tenant only."""
    rows, next_cursor = await service.list_entries(session, actor, filters, order=order, cursor=cursor, limit=limit)
    return Page[AuditEntryOut](items=[AuditEntryOut.model_validate(row) for row in rows], next_cursor=next_cursor)
