"""``GET /api/v1/audit``: the tenant's trail, newest first, filterable, keyset-paged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from seqtrack.audit.models import AuditEntry
from seqtrack.audit.schemas import AuditEntryOut
from seqtrack.identity.deps import require
from seqtrack.platform.actor import Actor
from seqtrack.platform.deps import ReadSession
from seqtrack.platform.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, SortKey, apply_keyset, parse_int, split_page
from seqtrack.platform.permissions import Permission
from seqtrack.platform.schemas import IsoDateTime

router = APIRouter(prefix="/audit", tags=["audit"])

CanReadAudit = Annotated[Actor, Depends(require(Permission.AUDIT_READ))]


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@router.get("", response_model=Page[AuditEntryOut])
async def list_audit_entries(
    session: ReadSession,
    actor: CanReadAudit,
    entity_type: str | None = Query(None, max_length=40, description="Exact, case-sensitive match (sample, user)."),
    entity_id: uuid.UUID | None = None,
    action: str | None = Query(
        None, max_length=80, description="Exact, case-sensitive event type (sample.status_changed)."
    ),
    actor_id: uuid.UUID | None = None,
    occurred_from: IsoDateTime | None = None,
    occurred_to: IsoDateTime | None = None,
    order: Literal["asc", "desc"] = "desc",
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(None, max_length=1000),
) -> Page[AuditEntryOut]:
    """Who did what, when, old → new, and why — for this tenant only."""
    query = select(AuditEntry).where(AuditEntry.tenant_id == actor.tenant_id)
    if entity_type is not None:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if occurred_from is not None:
        query = query.where(AuditEntry.occurred_at >= _aware(occurred_from))
    if occurred_to is not None:
        query = query.where(AuditEntry.occurred_at < _aware(occurred_to))
    query = apply_keyset(
        query,
        SortKey(AuditEntry.sequence, parse_int),
        AuditEntry.id,
        descending=order == "desc",
        cursor=cursor,
        limit=limit,
    )
    rows, next_cursor = split_page(list(await session.scalars(query)), limit, lambda row: (row.sequence, row.id))
    return Page[AuditEntryOut](items=[AuditEntryOut.model_validate(row) for row in rows], next_cursor=next_cursor)
