"""A change to a facility, a lab or an account, recorded the same way by every identity use case."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events.recorder import DomainEvent, record
from seqtrack.identity.models import Lab, Tenant, User
from seqtrack.platform.actor import Actor
from seqtrack.platform.models import utcnow


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
    await record(
        session,
        DomainEvent(
            type=event_type or f"{aggregate_type}.updated",
            aggregate_type=aggregate_type,
            aggregate_id=row.id,
            changes=changes,
        ),
        actor,
    )
