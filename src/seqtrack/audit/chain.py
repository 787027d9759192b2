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
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from seqtrack.audit.models import AuditEntry
from seqtrack.platform.jsontext import canonical
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
    # Parts already encoded (JsonText: an import's changes, its event's data) are hashed as their text.
    return canonical(content if type(content) is dict else dict(content)).encode()


# An entry as a stored row or as the plain values a bulk write inserts: both hash the same.
Entry = AuditEntry | Mapping[str, Any]


def _field_reader(entry: Entry) -> Callable[[str], Any]:
    if isinstance(entry, Mapping):
        return entry.get
    return lambda name: getattr(entry, name)


def canonical_content(entry: Entry) -> bytes:
    field = _field_reader(entry)
    actor_id, entity_id, event_id = field("actor_id"), field("entity_id"), field("event_id")
    content: dict[str, Any] = {
        "tenant_id": str(field("tenant_id")),
        "sequence": field("sequence"),
        "occurred_at": field("occurred_at").isoformat(),
        "actor_id": str(actor_id) if actor_id else None,
        "actor_kind": field("actor_kind"),
        "actor_display": field("actor_display"),
        "action": field("action"),
        "entity_type": field("entity_type"),
        "entity_id": str(entity_id) if entity_id else None,
        "changes": field("changes"),
        "reason": field("reason"),
        "signature": field("signature"),
        "event_id": str(event_id) if event_id else None,
        "correlation_id": field("correlation_id"),
        "previous_hash": field("previous_hash"),
    }
    hash_version = field("hash_version") or LEGACY_VERSION
    if hash_version >= KEYED_VERSION:
        content["hash_version"] = hash_version
        content["event_digest"] = field("event_digest")
    return _canonical(content)


def entry_hash(entry: Entry, key: bytes) -> str:
    if (_field_reader(entry)("hash_version") or LEGACY_VERSION) < KEYED_VERSION:
        return hashlib.sha256(canonical_content(entry)).hexdigest()
    return hmac.new(key, canonical_content(entry), hashlib.sha256).hexdigest()


def head_signature(key: bytes, tenant_id: uuid.UUID, sequence: int, last_hash: str) -> str:
    return hmac.new(
        key, _canonical({"head": str(tenant_id), "sequence": sequence, "hash": last_hash}), hashlib.sha256
    ).hexdigest()


def event_digest(content: Mapping[str, Any]) -> str:
    """The digest of an event's stored content (the events domain says which fields that is)."""
    return hashlib.sha256(_canonical(content)).hexdigest()
