"""Every (from, to) pair of the lifecycle: allowed moves leave one event and one audit entry, others get 409."""

from __future__ import annotations

import itertools
import uuid

import pytest
from sqlalchemy import func, select, update

from seqtrack.audit.models import AuditEntry
from seqtrack.events.models import EventRecord
from seqtrack.platform.database import Database
from seqtrack.platform.permissions import Role
from seqtrack.samples import lifecycle, service
from seqtrack.samples.errors import IllegalTransition, TransitionGuardFailed
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.models import Sample
from seqtrack.samples.schemas import QcIn, QcKind, SampleCreate, SettingsUpdate
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import sample_body

PAIRS = list(itertools.product(SampleStatus, SampleStatus))
HELD_FROM = SampleStatus.QC


async def _counts(database: Database, sample_id: uuid.UUID) -> tuple[int, int]:
    async with database.read_session() as session:
        events = await session.scalar(
            select(func.count()).select_from(EventRecord).where(EventRecord.aggregate_id == sample_id)
        )
        entries = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_id == sample_id)
        )
    return int(events or 0), int(entries or 0)


async def test_every_pair_of_states_is_allowed_or_refused_with_the_allowed_list(database: Database) -> None:
    manager = staff_actor(role=Role.MANAGER)
    async with database.write_session() as session:
        settings = await service.settings_for_write(session, manager.tenant_id)
        await service.update_settings(
            session, manager, SettingsUpdate(signed_transitions=[]), f'"{settings.tenant_id}-{settings.version}"'
        )
    # One sample per pair, each ready for every guard: passing QC, a library kit, a data location.
    samples: dict[tuple[SampleStatus, SampleStatus], uuid.UUID] = {}
    async with database.write_session() as session:
        for pair in PAIRS:
            body = SampleCreate.model_validate(sample_body(data_location="s3://facility/run-1/"))
            sample = await service.create_sample(session, manager, body)
            await service.transition(session, manager, sample.id, SampleStatus.RECEIVED, reason=None, signature=None)
            await service.record_qc(session, manager, sample.id, QcIn(kind=QcKind.A260_280, value=1.9))
            samples[pair] = sample.id
        for (source, _target), sample_id in samples.items():
            await session.execute(
                update(Sample)
                .where(Sample.id == sample_id)
                .values(
                    status=source.value,
                    held_from=HELD_FROM.value if source is SampleStatus.ON_HOLD else None,
                )
            )

    allowed_count = 0
    for (source, target), sample_id in samples.items():
        before = await _counts(database, sample_id)
        expected = lifecycle.allowed_targets(source, HELD_FROM if source is SampleStatus.ON_HOLD else None)
        if target in expected:
            allowed_count += 1
            async with database.write_session() as session:
                moved = await service.transition(session, manager, sample_id, target, reason="walk", signature=None)
            assert moved.status == target.value, (source, target)
            assert await _counts(database, sample_id) == (before[0] + 1, before[1] + 1), (source, target)
        else:
            with pytest.raises(IllegalTransition) as refused:
                async with database.write_session() as session:
                    await service.transition(session, manager, sample_id, target, reason="walk", signature=None)
            assert refused.value.extra["allowed"] == [state.value for state in expected], (source, target)
            assert await _counts(database, sample_id) == before, (source, target)
    assert allowed_count == sum(1 for t in lifecycle.TRANSITIONS if t.source is not SampleStatus.ON_HOLD) + 3


async def test_sequencing_without_a_passing_qc_is_blocked_by_its_guard(database: Database) -> None:
    manager = staff_actor(role=Role.MANAGER)
    async with database.write_session() as session:
        sample = await service.create_sample(session, manager, SampleCreate.model_validate(sample_body()))
        await service.transition(session, manager, sample.id, SampleStatus.RECEIVED, reason=None, signature=None)
        await service.record_qc(session, manager, sample.id, QcIn(kind=QcKind.A260_280, value=1.5))
        await session.execute(update(Sample).where(Sample.id == sample.id).values(status="library_prep"))
    with pytest.raises(TransitionGuardFailed, match="QC fails on a260_280"):
        async with database.write_session() as session:
            await service.transition(session, manager, sample.id, SampleStatus.SEQUENCING, reason=None, signature=None)


async def test_a_sample_on_hold_returns_only_to_the_state_it_was_held_in(database: Database) -> None:
    actor = staff_actor()
    async with database.write_session() as session:
        sample = await service.create_sample(session, actor, SampleCreate.model_validate(sample_body()))
        await service.transition(session, actor, sample.id, SampleStatus.RECEIVED, reason=None, signature=None)
        await service.transition(session, actor, sample.id, SampleStatus.ON_HOLD, reason="dry ice low", signature=None)
    with pytest.raises(IllegalTransition) as refused:
        async with database.write_session() as session:
            await service.transition(session, actor, sample.id, SampleStatus.QC, reason=None, signature=None)
    assert refused.value.extra["allowed"] == ["received", "failed", "cancelled"]
    async with database.write_session() as session:
        back = await service.transition(session, actor, sample.id, SampleStatus.RECEIVED, reason=None, signature=None)
    assert back.status == "received"
    assert back.held_from is None
