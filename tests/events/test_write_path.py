"""The one write path: state, event, audit entry and outbox row commit together or not at all."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from seqtrack.audit import service as audit_service
from seqtrack.audit.models import AuditEntry
from seqtrack.events.models import EventRecord, OutboxMessage
from seqtrack.events.recorder import DomainEvent, envelope, record
from seqtrack.platform.database import Database
from tests.fixtures.actors import staff_actor
from tests.fixtures.tampering import as_database_attacker, row_id


def _received(tube: uuid.UUID) -> DomainEvent:
    return DomainEvent(
        type="sample.received",
        aggregate_type="sample",
        aggregate_id=tube,
        data={"bench": "B2"},
        changes={"status": ("submitted", "received")},
        reason="tube arrived on dry ice",
    )


async def _count(database: Database, model: type) -> int:
    async with database.read_session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_change_writes_event_audit_entry_and_outbox_row_together(database: Database) -> None:
    actor = staff_actor()
    tube = uuid.uuid4()
    async with database.write_session() as session:
        stored = await record(session, _received(tube), actor)

    async with database.read_session() as session:
        event = await session.scalar(select(EventRecord))
        entry = await session.scalar(select(AuditEntry))
        outbox = await session.scalar(select(OutboxMessage))
    assert event is not None
    assert entry is not None
    assert outbox is not None
    assert event.id == stored.id == entry.event_id == outbox.event_id
    assert event.version == 1
    assert entry.changes == {"status": ["submitted", "received"]}
    assert entry.reason == "tube arrived on dry ice"
    assert entry.actor_display == actor.display
    assert entry.sequence == 1
    assert outbox.published_at is None
    # The outbox row refers to its event rather than copying it; the relay publishes the event itself.
    assert envelope(event)["data"]["bench"] == "B2"
    assert outbox.tenant_id == event.tenant_id


async def test_a_failed_unit_of_work_leaves_no_event_audit_or_outbox_row(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.write_session() as session:
            await record(session, _received(uuid.uuid4()), staff_actor())
            await session.flush()
            raise RuntimeError("power cut before commit")
    for model in (EventRecord, AuditEntry, OutboxMessage):
        assert await _count(database, model) == 0


async def test_two_writers_cannot_append_the_same_aggregate_version(database: Database) -> None:
    tube = uuid.uuid4()
    actor = staff_actor()
    async with database.write_session() as session:
        await record(session, _received(tube), actor, version=1)
    with pytest.raises(IntegrityError):
        async with database.write_session() as session:
            await record(session, _received(tube), actor, version=1)
    assert await _count(database, EventRecord) == 1


async def test_versions_follow_on_per_aggregate(database: Database) -> None:
    tube = uuid.uuid4()
    actor = staff_actor()
    for _ in range(3):
        async with database.write_session() as session:
            await record(session, _received(tube), actor)
    async with database.read_session() as session:
        versions = list(await session.scalars(select(EventRecord.version).order_by(EventRecord.position)))
    assert versions == [1, 2, 3]


async def test_two_hundred_concurrent_writes_all_commit_and_chain(database: Database) -> None:
    """Many writers at once: no 'database is locked', no lost write, an intact audit chain."""
    actor = staff_actor()

    async def one_write() -> None:
        async with database.write_session() as session:
            await record(session, _received(uuid.uuid4()), actor)

    results = await asyncio.gather(*(one_write() for _ in range(200)), return_exceptions=True)
    failures = [result for result in results if isinstance(result, BaseException)]
    assert failures == []
    assert await _count(database, EventRecord) == 200
    async with database.snapshot_session() as session:
        verification = await audit_service.verify(session)
        sequences = list(await session.scalars(select(AuditEntry.sequence).order_by(AuditEntry.sequence)))
    assert verification.ok, verification.broken
    assert verification.entries == 200
    assert sequences == list(range(1, 201))


async def test_verify_names_the_entry_that_was_edited(database: Database) -> None:
    actor = staff_actor()
    for _ in range(5):
        async with database.write_session() as session:
            await record(session, _received(uuid.uuid4()), actor)
    async with database.snapshot_session() as session:
        assert (await audit_service.verify(session)).ok
        third = await session.scalar(select(AuditEntry).where(AuditEntry.sequence == 3))
    assert third is not None

    await _tamper(database, "UPDATE audit_entries SET reason = 'nothing to see' WHERE id = :id", third.id)

    async with database.snapshot_session() as session:
        verification = await audit_service.verify(session)
    assert verification.broken is not None
    assert verification.broken.entry_id == third.id
    assert verification.broken.sequence == 3
    assert "altered" in verification.broken.problem


async def test_verify_notices_a_removed_entry(database: Database) -> None:
    actor = staff_actor()
    for _ in range(4):
        async with database.write_session() as session:
            await record(session, _received(uuid.uuid4()), actor)
    await _tamper(database, "DELETE FROM audit_entries WHERE sequence = 4", None)
    async with database.snapshot_session() as session:
        verification = await audit_service.verify(session)
    assert verification.broken is not None
    assert "removed" in verification.broken.problem


async def _tamper(database: Database, statement: str, entry_id: uuid.UUID | None) -> None:
    """Edit the trail the way someone with database access would, bypassing the app."""
    async with as_database_attacker(database) as session:
        params = {"id": row_id(database, entry_id)} if entry_id else {}
        await session.execute(text(statement), params)


async def test_the_database_forbids_rewriting_the_audit_trail_and_events(database: Database) -> None:
    async with database.write_session() as session:
        await record(session, _received(uuid.uuid4()), staff_actor())
    for statement in ("UPDATE audit_entries SET reason = 'x'", "DELETE FROM events"):
        with pytest.raises(Exception, match="append-only"):
            async with database.write_session() as session:
                await session.execute(text(statement))
