"""Sample rules at the service level: QC verdicts, steps, settings, time travel."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from seqtrack.audit import service as audit_service
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.platform.errors import PreconditionRequired
from seqtrack.platform.permissions import Role
from seqtrack.samples import service
from seqtrack.samples.errors import InvalidSampleField, InvalidSettings, SampleClosed, SignatureRequired
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.schemas import (
    QcIn,
    QcKind,
    SampleCreate,
    SampleOut,
    SampleUpdate,
    SettingsUpdate,
    StepStatus,
    StepUpdate,
)
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import new_sample, received_sample, sample_body

COMPUTED = {"overdue", "turnaround_hours"}


def _etag(thing: object) -> str:
    key = getattr(thing, "id", None) or thing.tenant_id  # type: ignore[attr-defined]
    return f'"{key}-{thing.version}"'  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "verdict"), [(1.9, "pass"), (1.75, "warn"), (2.05, "warn"), (1.65, "fail"), (2.2, "fail")]
)
async def test_a260_280_is_judged_against_the_default_thresholds(
    database: Database, value: float, verdict: str
) -> None:
    actor = staff_actor()
    sample = await received_sample(database, actor)
    async with database.write_session() as session:
        measurement = await service.record_qc(session, actor, sample.id, QcIn(kind=QcKind.A260_280, value=value))
    assert measurement.judgement == verdict
    assert measurement.unit == "ratio"


async def test_a_tenant_can_tighten_its_fragment_size_threshold(database: Database) -> None:
    manager = staff_actor(role=Role.ADMIN)
    sample = await received_sample(database, manager)
    async with database.write_session() as session:
        settings = await service.settings_for_write(session, manager.tenant_id)
        strict = {"fragment_size": {"warn": {"min": 30_000}, "fail": {"min": 15_000}}}
        await service.update_settings(
            session, manager, SettingsUpdate.model_validate({"qc_thresholds": strict}), _etag(settings)
        )
    async with database.write_session() as session:
        measurement = await service.record_qc(
            session, manager, sample.id, QcIn(kind=QcKind.FRAGMENT_SIZE, value=12_000)
        )
        assert measurement.judgement == "fail"
        refreshed = await service.get_sample(session, manager, sample.id)
    assert refreshed.fragment_size_bp == 12_000
    assert refreshed.version == 3


async def test_a_billing_code_must_match_the_tenants_pattern(database: Database) -> None:
    manager = staff_actor(role=Role.ADMIN)
    async with database.write_session() as session:
        settings = await service.settings_for_write(session, manager.tenant_id)
        await service.update_settings(
            session, manager, SettingsUpdate(billing_code_pattern=r"[A-Z]{2}-\d{4}"), _etag(settings)
        )
    with pytest.raises(InvalidSampleField) as refused:
        await new_sample(database, manager, billing_code="free text")
    assert refused.value.extra["errors"][0]["field"] == "billing_code"
    assert (await new_sample(database, manager, billing_code="GX-1234")).billing_code == "GX-1234"
    async with database.write_session() as session:
        settings = await service.settings_for_write(session, manager.tenant_id)
        cleared = await service.update_settings(
            session, manager, SettingsUpdate(billing_code_pattern=None), _etag(settings)
        )
        assert cleared.billing_code_pattern is None
        assert cleared.id_prefix == "SEQ"
    assert (await new_sample(database, manager, billing_code="free text")).billing_code == "free text"


async def test_settings_refuse_an_unknown_signed_transition_and_a_broken_pattern(database: Database) -> None:
    manager = staff_actor(role=Role.ADMIN)
    with pytest.raises(InvalidSettings) as refused:
        async with database.write_session() as session:
            settings = await service.settings_for_write(session, manager.tenant_id)
            body = SettingsUpdate(billing_code_pattern="([", signed_transitions=["qc->archived"])
            await service.update_settings(session, manager, body, _etag(settings))
    assert {error["field"] for error in refused.value.extra["errors"]} == {"billing_code_pattern", "signed_transitions"}


async def test_the_sample_id_uses_the_tenants_prefix_and_counts_per_tenant(database: Database) -> None:
    manager = staff_actor(role=Role.ADMIN)
    async with database.write_session() as session:
        settings = await service.settings_for_write(session, manager.tenant_id)
        await service.update_settings(session, manager, SettingsUpdate(id_prefix="NANO"), _etag(settings))
    first = await new_sample(database, manager)
    second = await new_sample(database, manager)
    elsewhere = await new_sample(database, staff_actor())
    assert (first.human_id, second.human_id) == ("NANO-000001", "NANO-000002")
    assert elsewhere.human_id == "SEQ-000001"


async def test_starting_and_finishing_a_step_stamps_its_times_and_bumps_the_sample(database: Database) -> None:
    actor = staff_actor()
    sample = await new_sample(database, actor)
    async with database.write_session() as session:
        started = await service.update_step(session, actor, sample.id, 2, StepUpdate(status=StepStatus.IN_PROGRESS))
        assert started.started_at is not None
        assert started.finished_at is None
    async with database.write_session() as session:
        done = await service.update_step(session, actor, sample.id, 2, StepUpdate(status=StepStatus.COMPLETED))
        assert done.finished_at is not None
        assert done.finished_at >= done.started_at  # type: ignore[operator]
        events = await service.sample_events(session, actor, sample.id)
    assert [event.type for event in events][-2:] == ["sample.step_updated", "sample.step_updated"]
    assert events[-1].data["changes"]["steps.2.status"] == ["in_progress", "completed"]
    assert events[-1].version == 3


async def test_an_urgent_sample_past_its_target_is_overdue(database: Database) -> None:
    actor = staff_actor()
    sample = await new_sample(database, actor, priority="urgent")
    out = SampleOut.model_validate(sample)
    # The target counts from the moment of creation (to the millisecond the row was written).
    assert abs(out.due_at - (sample.created_at + timedelta(hours=72))) < timedelta(seconds=1)
    assert out.overdue is False
    late = out.model_copy(update={"due_at": out.created_at - timedelta(hours=1)})
    assert late.overdue is True


async def test_a_patch_without_if_match_is_refused(database: Database) -> None:
    actor = staff_actor()
    sample = await new_sample(database, actor)
    with pytest.raises(PreconditionRequired):
        async with database.write_session() as session:
            await service.update_sample(session, actor, sample.id, SampleUpdate(notes="x"), None)


async def test_a_disposed_sample_can_no_longer_be_edited(database: Database) -> None:
    actor = staff_actor()
    sample = await new_sample(database, actor)
    async with database.write_session() as session:
        for target in (SampleStatus.CANCELLED, SampleStatus.DISPOSED):
            await service.transition(session, actor, sample.id, target, reason="withdrawn", signature=None)
        disposed = await service.get_sample(session, actor, sample.id)
    with pytest.raises(SampleClosed):
        async with database.write_session() as session:
            await service.update_sample(session, actor, sample.id, SampleUpdate(notes="x"), _etag(disposed))


async def test_folding_every_event_rebuilds_exactly_the_stored_sample(database: Database) -> None:
    actor = staff_actor()
    sample = await new_sample(database, actor, due_date="2030-01-31", barcode="TUBE-9")
    async with database.write_session() as session:
        await service.transition(session, actor, sample.id, SampleStatus.RECEIVED, reason="arrived", signature=None)
        await service.transition(session, actor, sample.id, SampleStatus.QC, reason=None, signature=None)
        await service.record_qc(session, actor, sample.id, QcIn(kind=QcKind.DIN, value=8.1))
        await service.update_step(session, actor, sample.id, 1, StepUpdate(status=StepStatus.COMPLETED))
        current = await service.get_sample(session, actor, sample.id)
        body = SampleUpdate(priority="high", notes="rush", barcode=None, organism="E. coli K-12")
        await service.update_sample(session, actor, sample.id, body, _etag(current))
        await service.transition(session, actor, sample.id, SampleStatus.ON_HOLD, reason="question", signature=None)
    async with database.read_session() as session:
        stored = SampleOut.model_validate(await service.get_sample(session, actor, sample.id))
        history = await service.sample_events(session, actor, sample.id)
        rebuilt = service.fold(sample.id, history)
    assert rebuilt.model_dump(exclude=COMPUTED) == stored.model_dump(exclude=COMPUTED)
    assert stored.version == len(history) == 7


async def test_a_created_event_carries_the_full_initial_state_once(database: Database) -> None:
    actor = staff_actor()
    sample = await new_sample(database, actor, genome_size_bp=4_600_000, a260_280=1.85, notes="n" * 2000)
    async with database.read_session() as session:
        created = (await service.sample_events(session, actor, sample.id))[0]
    initial = {name: new for name, (old, new) in created.data["changes"].items() if old is None}
    assert {name for name, value in service.snapshot(sample).items() if value is not None} == set(initial)
    assert initial["genome_size_bp"] == 4_600_000
    assert initial["status"] == "submitted"
    assert created.data["steps"][0] == "Sample QC"
    # The 2 KB note is in the event once, not again beside its change.
    assert str(created.data).count("n" * 2000) == 1
    assert SampleCreate.model_validate(sample_body()).priority == "normal"


async def test_a_bulk_registration_writes_what_one_at_a_time_writes_and_the_trail_verifies(
    database: Database,
) -> None:
    actor = staff_actor()
    single = await new_sample(database, actor, name="one-by-one", barcode="TB-0")
    bodies = [SampleCreate.model_validate(sample_body(name=f"bulk-{n}", barcode=f"TB-{n}")) for n in (1, 2, 3)]
    async with database.write_session() as session:
        created = await service.create_samples(session, actor, bodies, origin={"submission_id": "s-1"})
    async with database.read_session() as session:
        one = service.snapshot(await service.get_sample(session, actor, single.id))
        many = [await service.get_sample(session, actor, sample_id) for sample_id in created]
        events = [(await service.sample_events(session, actor, sample_id))[0] for sample_id in created]
        first_event = (await service.sample_events(session, actor, single.id))[0]
        steps = [len(await service.sample_steps(session, actor, sample_id)) for sample_id in created]
        outbox = await session.scalar(text("SELECT count(*) FROM outbox"))
    async with database.snapshot_session() as session:
        verification = await audit_service.verify(session, actor.tenant_id)
    assert [sample.human_id for sample in many] == ["SEQ-000002", "SEQ-000003", "SEQ-000004"]
    differing = {"human_id", "name", "barcode", "due_at"}
    for sample in many:
        mine = service.snapshot(sample)
        assert {k: v for k, v in mine.items() if k not in differing} == {
            k: v for k, v in one.items() if k not in differing
        }
        assert sample.search_text.startswith(sample.human_id.lower())
    assert steps == [len(await _step_names(database, actor, single.id))] * 3
    assert all(event.data["submission_id"] == "s-1" for event in events)
    assert set(events[0].data["changes"]) == set(first_event.data["changes"])
    assert outbox == 4
    assert verification.ok, verification.broken
    assert verification.entries == 4


async def _step_names(database: Database, actor: Actor, sample_id: uuid.UUID) -> list[str]:
    async with database.read_session() as session:
        return [step.name for step in await service.sample_steps(session, actor, sample_id)]


async def test_a_rule_changed_by_another_process_applies_to_the_very_next_change(database: Database) -> None:
    """The rules are cached per process, but only while the settings version read with the sample matches."""
    manager = staff_actor(role=Role.ADMIN)
    first = await new_sample(database, manager)
    assert first.human_id == "SEQ-000001"
    # Another api process changes the facility's rules: nothing in this process hears of it.
    async with database.write_session() as session:
        await session.execute(
            text(
                "UPDATE sample_settings SET id_prefix = 'NANO', signed_transitions = :signed,"
                " version = version + 1 WHERE tenant_id = :tenant"
            ),
            {
                "tenant": manager.tenant_id.hex if database.is_sqlite else manager.tenant_id,
                "signed": '["submitted->received"]',
            },
        )
    assert (await new_sample(database, manager)).human_id == "NANO-000002"
    with pytest.raises(SignatureRequired):
        async with database.write_session() as session:
            await service.transition(session, manager, first.id, SampleStatus.RECEIVED, reason=None, signature=None)
