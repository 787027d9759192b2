"""Hashing of audit entries: the canonical form both writing and verifying use.

Version 1 entries (written before migration 0012) are chained with plain SHA-256:
anyone who can write to the database could re-hash them after an edit. Version 2
entries are chained with HMAC-SHA256 under the audit key, which is not in the
database (``SEQTRACK_AUDIT_KEY``, or derived from the secret key), and each
carries the digest of its event, so an edited event no longer matches its entry.
The chain head carries an HMAC of its own, so deleting the newest entries and
rewinding the head to the last one left is noticed too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from typing import Any

from seqtrack.audit.models import AuditEntry
from seqtrack.settings import Settings

GENESIS_HASH = "0" * 64
LEGACY_VERSION = 1
KEYED_VERSION = 2
_KEY_DERIVATION_LABEL = b"seqtrack audit chain v2"


def audit_key(settings: Settings) -> bytes:
    if settings.audit_key is not None:
        return settings.audit_key.get_secret_value().encode()
    return hmac.new(settings.signing_key().encode(), _KEY_DERIVATION_LABEL, hashlib.sha256).digest()


def _canonical(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


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
    if (entry.hash_version or LEGACY_VERSION) >= KEYED_VERSION:
        content["hash_version"] = entry.hash_version
        content["event_digest"] = entry.event_digest
    return _canonical(content)


def entry_hash(entry: AuditEntry, key: bytes) -> str:
    if (entry.hash_version or LEGACY_VERSION) < KEYED_VERSION:
        return hashlib.sha256(canonical_content(entry)).hexdigest()
    return hmac.new(key, canonical_content(entry), hashlib.sha256).hexdigest()


def head_signature(key: bytes, tenant_id: uuid.UUID, sequence: int, last_hash: str) -> str:
    return hmac.new(
        key, _canonical({"head": str(tenant_id), "sequence": sequence, "hash": last_hash}), hashlib.sha256
    ).hexdigest()


def event_digest(content: Mapping[str, Any]) -> str:
    """The digest of an event's stored content (the events domain says which fields that is)."""
    return hashlib.sha256(_canonical(content)).hexdigest()
