"""The audit trail as the API shows it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sequence: int
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_kind: str
    actor_display: str
    action: str
    entity_type: str
    entity_id: uuid.UUID | None
    changes: dict[str, Any]
    reason: str | None
    signature: dict[str, Any] | None
    event_id: uuid.UUID | None
    correlation_id: str | None
    previous_hash: str
    entry_hash: str
