"""A change to a facility, a lab or an account, recorded the same way by every identity use case."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events.recorder import DomainEvent, record
from seqtrack.identity.models import Lab, Tenant, User
from seqtrack.platform.actor import Actor
from seqtrack.platform.models import utcnow


async def record_event(
    session: AsyncSession,
    actor: Actor,
    event_type: str,
    aggregate_id: uuid.UUID,
    *,
    data: Mapping[str, Any] | None = None,
    changes: Mapping[str, tuple[Any, Any]] | None = None,
    tenant_id: uuid.UUID | None = None,
) -> None:
    """Write one identity event through the write path, in ``tenant_id`` if not the actor's.

    The aggregate is named by the type's first word: "user.unlocked" happens to a user,
    "api_key.revoked" to an API key.
    """
    await record(
        session,
        DomainEvent(
            type=event_type,
            aggregate_type=event_type.partition(".")[0],
            aggregate_id=aggregate_id,
            data=dict(data or {}),
            changes=dict(changes or {}),
        ),
        actor,
        tenant_id=tenant_id,
    )


def assign(row: Tenant | Lab | User, **values: Any) -> dict[str, tuple[Any, Any]]:
    """Give ``row`` each value that is not None (None: leave it) and differs; returns what changed, (old, new)."""
    changes: dict[str, tuple[Any, Any]] = {}
    for field, value in values.items():
        if value is not None and value != getattr(row, field):
            changes[field] = (getattr(row, field), value)
            setattr(row, field, value)
    return changes


async def record_changes(
    session: AsyncSession,
    actor: Actor,
    row: Tenant | Lab | User,
    changes: dict[str, tuple[Any, Any]],
    *,
    aggregate_type: str,
    event_type: str | None = None,
) -> None:
    """Stamp ``row`` and write ``changes`` (old, new) through the write path; nothing when nothing changed."""
    if not changes:
        return
    row.updated_at = utcnow()
    await session.flush()
    await record_event(session, actor, event_type or f"{aggregate_type}.updated", row.id, changes=changes)
