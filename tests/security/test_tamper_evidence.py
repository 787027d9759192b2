"""Tampering by someone with the database's credentials is refused by the database or shown by verify."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner, Result

from seqtrack.audit import service as audit_service
from seqtrack.audit.chain import canonical_content
from seqtrack.audit.models import AuditChainHead, AuditEntry
from seqtrack.cli import app as cli
from seqtrack.events.recorder import DomainEvent, record
from seqtrack.platform.database import Database
from seqtrack.settings import Settings, get_settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.tampering import as_database_attacker, row_id


async def _trail(database: Database, entries: int = 5, tenant: uuid.UUID | None = None) -> uuid.UUID:
    actor = staff_actor(tenant)
    for number in range(entries):
        async with database.write_session() as session:
            await record(
                session,
                DomainEvent(
                    type="sample.received",
                    aggregate_type="sample",
                    aggregate_id=uuid.uuid4(),
                    data={"bench": f"B{number}"},
                ),
                actor,
            )
    async with database.snapshot_session() as session:
        assert (await audit_service.verify(session)).ok
    return actor.tenant_id


async def _verify(database: Database) -> audit_service.Verification:
    async with database.snapshot_session() as session:
        return await audit_service.verify(session)


async def _cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("SEQTRACK_DATABASE_URL", settings.database_dsn)
    monkeypatch.setenv("SEQTRACK_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SEQTRACK_SECRET_KEY", settings.signing_key())
    get_settings.cache_clear()
    try:
        return await asyncio.to_thread(CliRunner().invoke, cli, ["audit", *args])
    finally:
        get_settings.cache_clear()


async def _rewind(database: Database, tenant: uuid.UUID, keep: int) -> None:
    """Delete the entries after ``keep`` and point the head at the last one left, as it looked then."""
    async with database.read_session() as session:
        last = await session.scalar(select(AuditEntry).where(AuditEntry.sequence == keep))
    assert last is not None
    async with as_database_attacker(database) as session:
        await session.execute(text("DELETE FROM audit_entries WHERE sequence > :keep"), {"keep": keep})
        await session.execute(
            text("UPDATE audit_chain_heads SET sequence = :keep, entry_hash = :hash WHERE tenant_id = :tenant"),
            {"keep": keep, "hash": last.entry_hash, "tenant": row_id(database, tenant)},
        )


async def test_deleting_the_newest_entries_and_rewinding_the_head_is_detected(database: Database) -> None:
    tenant = await _trail(database)
    await _rewind(database, tenant, keep=3)
    verification = await _verify(database)
    assert verification.broken is not None
    assert "head was moved" in verification.broken.problem


async def test_editing_an_entry_and_rehashing_the_rest_without_the_key_is_detected(database: Database) -> None:
    await _trail(database)
    async with database.read_session() as session:
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.sequence)))
    # The attacker rewrites entry 2 and re-seals it and everything after with SHA-256, as the old chain was.
    previous = entries[0].entry_hash
    async with as_database_attacker(database) as session:
        for entry in entries[1:]:
            if entry.sequence == 2:
                entry.reason = "it was always in qc"
            entry.previous_hash = previous
            previous = hashlib.sha256(canonical_content(entry)).hexdigest()
            await session.execute(
                text("UPDATE audit_entries SET reason = :reason, previous_hash = :p, entry_hash = :h WHERE id = :id"),
                {"reason": entry.reason, "p": entry.previous_hash, "h": previous, "id": row_id(database, entry.id)},
            )
        await session.execute(text("UPDATE audit_chain_heads SET entry_hash = :h"), {"h": previous})
    verification = await _verify(database)
    assert verification.broken is not None
    assert verification.broken.sequence == 2
    assert "altered" in verification.broken.problem


async def test_editing_an_event_in_the_event_store_is_detected(database: Database) -> None:
    await _trail(database)
    async with database.read_session() as session:
        third = await session.scalar(select(AuditEntry).where(AuditEntry.sequence == 3))
    assert third is not None
    assert third.event_id is not None
    async with as_database_attacker(database) as session:
        await session.execute(
            text("UPDATE events SET data = :data WHERE id = :id"),
            {"data": json.dumps({"bench": "somewhere else"}), "id": row_id(database, third.event_id)},
        )
    verification = await _verify(database)
    assert verification.broken is not None
    assert verification.broken.sequence == 3
    assert f"event {third.event_id} was altered" in verification.broken.problem


async def test_the_database_refuses_truncating_rewriting_or_deleting_the_trail(database: Database) -> None:
    await _trail(database, entries=2)
    statements = ["UPDATE audit_entries SET reason = 'x'", "DELETE FROM audit_entries", "DELETE FROM events"]
    statements += ["UPDATE events SET type = 'x'"]
    if not database.is_sqlite:
        statements += ["TRUNCATE audit_entries", "TRUNCATE events", "TRUNCATE audit_entries, events CASCADE"]
    for statement in statements:
        with pytest.raises(Exception, match="append-only"):
            async with database.write_session() as session:
                await session.execute(text(statement))
    assert (await _verify(database)).entries == 2


async def test_a_checkpoint_kept_outside_shows_truncation_even_with_an_old_head_row_put_back(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tenant = await _trail(database, entries=2)
    async with database.read_session() as session:
        old_head = await session.get(AuditChainHead, tenant)
    assert old_head is not None
    # The attacker's copy of the head row from back then (an old backup, a replica), signature and all.
    kept = {"s": old_head.sequence, "h": old_head.entry_hash, "g": old_head.signature, "t": row_id(database, tenant)}
    await _trail(database, entries=3, tenant=tenant)
    checkpoint = tmp_path / "audit-checkpoint.json"
    written = await _cli(settings, monkeypatch, "checkpoint", "--file", str(checkpoint))
    assert written.exit_code == 0, written.output

    async with as_database_attacker(database) as session:
        await session.execute(text("DELETE FROM audit_entries WHERE sequence > 2"))
        await session.execute(
            text("UPDATE audit_chain_heads SET sequence = :s, entry_hash = :h, signature = :g WHERE tenant_id = :t"),
            kept,
        )
    # The database alone cannot tell: every entry and the head are genuine.
    assert (await _cli(settings, monkeypatch, "verify")).exit_code == 0
    checked = await _cli(settings, monkeypatch, "verify", "--checkpoint", str(checkpoint))
    assert checked.exit_code == 1, checked.output
    assert "removed (the checkpoint recorded 5)" in checked.output

    forged = tmp_path / "forged.json"
    document = json.loads(checkpoint.read_text())
    document["heads"][0]["sequence"] = 2
    forged.write_text(json.dumps(document))
    refused = await _cli(settings, monkeypatch, "verify", "--checkpoint", str(forged))
    assert refused.exit_code == 2
    assert "not signed with this installation's audit key" in refused.output
