"""Hashing of audit entries: the canonical form both writing and verifying use."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from seqtrack.audit.models import AuditEntry

GENESIS_HASH = "0" * 64


def canonical_content(entry: AuditEntry) -> bytes:
    content: dict[str, Any] = {
        "tenant_id": str(entry.tenant_id),
        "sequence": entry.sequence,
        "occurred_at": entry.occurred_at.isoformat(),
        "actor_id": str(entry.actor_id) if entry.actor_id else None,
        "actor_kind": entry.actor_kind,
        "actor_display": entry.actor_display,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_id": str(entry.entity_id) if entry.entity_id else None,
        "changes": entry.changes,
        "reason": entry.reason,
        "signature": entry.signature,
        "event_id": str(entry.event_id) if entry.event_id else None,
        "correlation_id": entry.correlation_id,
        "previous_hash": entry.previous_hash,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(canonical_content(entry)).hexdigest()
