"""`seqtrack audit verify`: a clean trail verifies; an edited row is named."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner, Result

from seqtrack.audit.models import AuditEntry
from seqtrack.cli import app as cli
from seqtrack.platform.database import Database
from seqtrack.samples import service
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.settings import Settings, get_settings
from tests.fixtures.actors import staff_actor
from tests.fixtures.identity import make_tenant
from tests.fixtures.samples import new_sample
from tests.fixtures.tampering import as_database_attacker, row_id


async def _verify(settings: Settings, monkeypatch: pytest.MonkeyPatch, *options: str) -> Result:
    monkeypatch.setenv("SEQTRACK_DATABASE_URL", settings.database_dsn)
    monkeypatch.setenv("SEQTRACK_DATA_DIR", str(settings.data_dir))
    # The chain is keyed from the secret: the command must run with the installation's.
    monkeypatch.setenv("SEQTRACK_SECRET_KEY", settings.signing_key())
    get_settings.cache_clear()
    try:
        # The command runs its own event loop, so it gets a thread of its own.
        return await asyncio.to_thread(CliRunner().invoke, cli, ["audit", "verify", *options])
    finally:
        get_settings.cache_clear()


async def _history(database: Database, tenant_id: uuid.UUID | None = None) -> uuid.UUID:
    actor = staff_actor(tenant_id)
    sample = await new_sample(database, actor)
    async with database.write_session() as session:
        await service.transition(session, actor, sample.id, SampleStatus.RECEIVED, reason="arrived", signature=None)
        await service.transition(session, actor, sample.id, SampleStatus.QC, reason=None, signature=None)
    return sample.id


async def test_a_clean_trail_verifies(database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    await _history(database)
    result = await _verify(settings, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "intact: 3 entries" in result.output


async def test_editing_one_audit_row_makes_verify_name_that_entry(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_id = await _history(database)
    async with database.read_session() as session:
        second = await session.scalar(
            select(AuditEntry).where(AuditEntry.entity_id == sample_id, AuditEntry.sequence == 2)
        )
    assert second is not None
    async with as_database_attacker(database) as session:
        await session.execute(
            text("UPDATE audit_entries SET reason = 'it was always in qc' WHERE id = :id"),
            {"id": row_id(database, second.id)},
        )

    result = await _verify(settings, monkeypatch)
    assert result.exit_code == 1
    assert str(second.id) in result.output
    assert "sequence 2" in result.output
    assert "altered" in result.output


async def test_verify_names_the_facility_by_its_slug(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = await make_tenant(database, "core-seq")
    await _history(database, mine)
    await _history(database)
    result = await _verify(settings, monkeypatch, "--tenant", "core-seq")
    assert result.exit_code == 0, result.output
    # Its own chain only, not the other facility's.
    assert "in 1 tenant chain(s)" in result.output


async def test_an_unknown_facility_is_an_error_not_an_empty_trail(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _history(database)
    result = await _verify(settings, monkeypatch, "--tenant", "core-sq")
    assert result.exit_code == 2
    assert "No facility with slug 'core-sq'" in result.output
    assert "intact" not in result.output
