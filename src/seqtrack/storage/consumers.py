"""Storage reacting to other domains' events: a sample disposed anywhere frees its position."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.events import consumers
from seqtrack.samples.events import SampleEvent
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.storage import service


async def _disposed(_session: AsyncSession, envelope: dict[str, Any]) -> bool:
    return bool(envelope.get("data", {}).get("to") == SampleStatus.DISPOSED.value)


@consumers.consumer("storage_disposals", handles=[SampleEvent.STATUS_CHANGED.value], concerned=_disposed)
async def free_position_of_disposed_sample(session: AsyncSession, envelope: dict[str, Any]) -> None:
    """A tube that no longer exists holds no position (disposal through storage has freed it already)."""
    actor = envelope.get("actor") or {}
    await service.free_disposed(
        session,
        uuid.UUID(str(envelope["tenant_id"])),
        uuid.UUID(str(envelope["aggregate_id"])),
        reason=envelope.get("data", {}).get("reason"),
        disposed_by=str(actor.get("display") or "system"),
    )
