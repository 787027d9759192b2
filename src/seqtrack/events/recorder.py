"""The one write path: a domain event, its audit entry and its outbox row, together.

Every service that changes state calls :func:`record` inside the caller's unit
of work, so the new state and these three rows commit or vanish as one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import partial
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.audit import service as audit_service
from seqtrack.audit.chain import event_digest
from seqtrack.events.models import EventRecord
from seqtrack.platform.actor import Actor
from seqtrack.platform.bulk import insert_rows
from seqtrack.platform.errors import InvalidInput
from seqtrack.platform.integrity import provide_event_digests
from seqtrack.platform.jsontext import json_text
from seqtrack.platform.models import new_id, utcnow
from seqtrack.platform.schemas import storable


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Something that happened to one aggregate.

    ``changes`` maps each field to ``(old, new)`` for the audit trail; ``data``
    is what consumers of the event need to act without reading our tables.
    """

    type: str
    aggregate_type: str
    aggregate_id: uuid.UUID
    data: Mapping[str, Any] = field(default_factory=dict)
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    reason: str | None = None
    signature: Mapping[str, Any] | None = None


async def record(
    session: AsyncSession,
    event: DomainEvent,
    actor: Actor,
    *,
    version: int | None = None,
    tenant_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> EventRecord:
    """Append ``event`` to the store, the audit trail and the outbox.

    ``version`` is the aggregate's version after this change; when the caller
    keeps no version column it is the next one in the store. A second writer
    with the same version fails the unique constraint instead of forking history.
    ``occurred_at`` lets the caller stamp its own row with the event's time
    before writing it, rather than updating the row again afterwards.

    The event row is added to the session, not flushed: a caller that records
    many events sends them as one batch. The outbox row is the database's to
    add (a trigger on the event store), so it can never be forgotten.
    """
    if version is None:
        current = await session.scalar(
            select(func.max(EventRecord.version)).where(
                EventRecord.aggregate_type == event.aggregate_type,
                EventRecord.aggregate_id == event.aggregate_id,
            )
        )
        version = (current or 0) + 1
    return stage(session, event, actor, version=version, tenant_id=tenant_id, occurred_at=occurred_at)


def stage(
    session: AsyncSession,
    event: DomainEvent,
    actor: Actor,
    *,
    version: int,
    tenant_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> EventRecord:
    """:func:`record` for a caller that knows the aggregate's new version: sends nothing until the next flush."""
    values, audited = _stored_values(event, actor, version, tenant_id or actor.tenant_id, occurred_at or utcnow())
    stored = EventRecord(**values)
    session.add(stored)
    _stage_audit(session, event, values, audited)
    return stored


async def stage_many(
    session: AsyncSession,
    events: Sequence[tuple[DomainEvent, int]],
    actor: Actor,
    *,
    occurred_at: datetime | None = None,
) -> None:
    """:func:`stage` for many new events at once, sent now as one statement: for an import of thousands.

    Each ``(event, version)`` still gets its own event row, audit entry and outbox
    row; only the objects are skipped, so memory holds plain values until sent.
    Whatever the session still has to send goes first, keeping events in order.
    """
    if not events:
        return
    await session.flush()
    moment = occurred_at or utcnow()
    rows = []
    for event, version in events:
        # Encoded once: the same text is the event's data, its audit entry's changes and what both hashes cover.
        values, audited = _stored_values(event, actor, version, actor.tenant_id, moment, encoded=True)
        rows.append(values)
        _stage_audit(session, event, values, audited)
    await insert_rows(session, EventRecord, rows)


def _stored_values(
    event: DomainEvent,
    actor: Actor,
    version: int,
    tenant: uuid.UUID,
    occurred_at: datetime,
    *,
    encoded: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The event's row as plain values, its JSON made storable; and what its audit entry adds.

    ``encoded``: the event's data and the entry's changes as :class:`JsonText`, for
    a bulk write that sends them as text (an ORM object wants them as dictionaries).
    """
    correlation_id = structlog.contextvars.get_contextvars().get("request_id")
    data = _field_json(dict(event.data))
    changed = {name: [_field_json(old, name), _field_json(new, name)] for name, (old, new) in event.changes.items()}
    signature = _field_json(dict(event.signature), "signature") if event.signature is not None else None
    changes = json_text(changed) if encoded else changed
    data = {**data, **({"changes": changes} if changed else {}), **_extras(event, signature)}
    values = {
        "id": new_id(),
        "tenant_id": tenant,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "version": version,
        "type": event.type,
        "data": json_text(data) if encoded else data,
        "actor_id": actor.principal_id,
        "actor_kind": actor.kind,
        "actor_display": _printable(actor.display),
        "correlation_id": correlation_id,
        "occurred_at": occurred_at,
    }
    return values, {"changes": changes, "signature": signature, "reason": _field_json(event.reason, "reason")}


def _stage_audit(
    session: AsyncSession, event: DomainEvent, stored: Mapping[str, Any], audited: Mapping[str, Any]
) -> None:
    audit_service.append(
        session,
        tenant_id=stored["tenant_id"],
        occurred_at=stored["occurred_at"],
        actor_id=stored["actor_id"],
        actor_kind=stored["actor_kind"],
        actor_display=stored["actor_display"],
        action=event.type,
        entity_type=event.aggregate_type,
        entity_id=event.aggregate_id,
        changes=audited["changes"],
        reason=audited["reason"],
        signature=audited["signature"],
        event_id=stored["id"],
        event_digest=event_digest(_digested(stored)),
        correlation_id=stored["correlation_id"],
    )


def _digested(stored: EventRecord | Mapping[str, Any]) -> dict[str, Any]:
    """What of an event its audit entry vouches for: all it says, not where it sits (position)."""
    field: Callable[[str], Any] = stored.__getitem__ if isinstance(stored, Mapping) else partial(getattr, stored)
    actor_id = field("actor_id")
    return {
        "id": str(field("id")),
        "tenant_id": str(field("tenant_id")),
        "aggregate_type": field("aggregate_type"),
        "aggregate_id": str(field("aggregate_id")),
        "version": field("version"),
        "type": field("type"),
        "data": field("data"),
        "actor_id": str(actor_id) if actor_id else None,
        "actor_kind": field("actor_kind"),
        "actor_display": field("actor_display"),
        "correlation_id": field("correlation_id"),
        "occurred_at": field("occurred_at").isoformat(),
    }


async def stored_digests(session: AsyncSession, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The digest of each of these events as the store holds it now; a missing one is absent."""
    if not event_ids:
        return {}
    rows = await session.scalars(select(EventRecord).where(EventRecord.id.in_(list(event_ids))))
    return {row.id: event_digest(_digested(row)) for row in rows}


provide_event_digests(stored_digests)


def _extras(event: DomainEvent, signature: Any) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    if event.reason is not None:
        extras["reason"] = event.reason
    if signature is not None:
        extras["signature"] = signature
    return extras


class UnstorableText(ValueError):
    pass


def _field_json(value: Any, field: str | None = None) -> Any:
    try:
        return to_json(value)
    except UnstorableText:
        name = field or "data"
        message = "contains a NUL character or an unpaired surrogate, which cannot be stored"
        raise InvalidInput(f"{name} {message}", errors=[{"field": name, "message": message}]) from None


def _printable(display: str) -> str:
    # A display name can come from an attacker (the e-mail typed at a failed
    # log-in); it is evidence, so it is kept, with NUL made storable.
    if storable(display):
        return display
    return "".join(char if storable(char) else "\ufffd" for char in display)


def envelope(stored: EventRecord) -> dict[str, Any]:
    """The form an event takes outside the process (bus, webhooks, live feed)."""
    return {
        "id": str(stored.id),
        "type": stored.type,
        "tenant_id": str(stored.tenant_id),
        "aggregate_type": stored.aggregate_type,
        "aggregate_id": str(stored.aggregate_id),
        "version": stored.version,
        "occurred_at": stored.occurred_at.isoformat(),
        "actor": {
            "id": str(stored.actor_id) if stored.actor_id else None,
            "kind": stored.actor_kind,
            "display": stored.actor_display,
        },
        "correlation_id": stored.correlation_id,
        "data": stored.data,
    }


_ALREADY_PLAIN = frozenset({type(None), bool, int, float})


def to_json(value: Any) -> Any:
    """Plain JSON values, so stored content hashes the same after a round trip."""
    # The exact types first, without a chain of isinstance checks: an import converts millions of values.
    kind = type(value)
    if kind is str:
        if not storable(value):
            raise UnstorableText
        return value
    if kind in _ALREADY_PLAIN:
        return value
    if kind is dict:
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, str):
        if not storable(value):
            raise UnstorableText
        return value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Enum):
        return to_json(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(item) for item in value]
    raise TypeError(f"cannot store {type(value).__name__} in an event")
