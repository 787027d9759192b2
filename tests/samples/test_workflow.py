"""Lifecycle and work agree: steps start and finish with the states, QC only where it belongs, sane plans."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.platform.permissions import Role
from seqtrack.samples import service
from seqtrack.samples.errors import InvalidSampleField, QcNotAllowed
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.schemas import QcIn, QcKind, SampleCreate, SampleUpdate, SettingsUpdate, StepUpdate
from tests.fixtures.actors import staff_actor
from tests.fixtures.identity import make_member, make_tenant
from tests.fixtures.samples import new_sample, received_sample, sample_body

S = SampleStatus


async def _steps(database: Database, actor: Actor, sample_id: uuid.UUID) -> dict[str, str]:
    async with database.read_session() as session:
        return {step.name: step.status for step in await service.sample_steps(session, actor, sample_id)}


async def _move(database: Database, actor: Actor, sample_id: uuid.UUID, *targets: SampleStatus) -> None:
    for target in targets:
        async with database.write_session() as session:
            await service.transition(session, actor, sample_id, target, reason="as planned", signature=None)


async def _without_signatures(database: Database, manager: Actor) -> None:
    async with database.write_session() as session:
        settings = await service.settings_for_write(session, manager.tenant_id)
        await service.update_settings(
            session, manager, SettingsUpdate(signed_transitions=[]), f'"{settings.tenant_id}-{settings.version}"'
        )


async def test_entering_a_state_starts_its_step_and_leaving_it_finishes_it(database: Database) -> None:
    manager = staff_actor(role=Role.MANAGER)
    await _without_signatures(database, manager)
    sample = await received_sample(database, manager, data_location="s3://facility/run-7/")
    assert set((await _steps(database, manager, sample.id)).values()) == {"pending"}

    await _move(database, manager, sample.id, S.QC)
    assert (await _steps(database, manager, sample.id))["Sample QC"] == "in_progress"
    async with database.write_session() as session:
        await service.record_qc(session, manager, sample.id, QcIn(kind=QcKind.A260_280, value=1.9))

    await _move(database, manager, sample.id, S.LIBRARY_PREP)
    steps = await _steps(database, manager, sample.id)
    assert steps["Sample QC"] == "completed"
    assert steps["Library Preparation"] == "in_progress"
    assert steps["Library QC"] == "pending"

    # A hold pauses the work; returning resumes it where it was.
    await _move(database, manager, sample.id, S.ON_HOLD, S.LIBRARY_PREP)
    assert await _steps(database, manager, sample.id) == steps

    await _move(database, manager, sample.id, S.SEQUENCING, S.ANALYSIS, S.DELIVERED, S.ARCHIVED)
    archived = await _steps(database, manager, sample.id)
    assert "pending" not in archived.values()
    assert "in_progress" not in archived.values()
    async with database.read_session() as session:
        events = await service.sample_events(session, manager, sample.id)
    # The step changes travel in the move's own event (and so its audit entry).
    into_qc = next(event for event in events if event.data.get("to") == "qc")
    assert into_qc.data["changes"]["steps.1.status"] == ["pending", "in_progress"]


async def test_failing_a_sample_ends_its_open_steps(database: Database) -> None:
    manager = staff_actor(role=Role.MANAGER)
    sample = await received_sample(database, manager)
    await _move(database, manager, sample.id, S.QC, S.FAILED)
    steps = await _steps(database, manager, sample.id)
    assert steps["Sample QC"] == "failed"
    assert {status for name, status in steps.items() if name != "Sample QC"} == {"skipped"}


@pytest.mark.parametrize("status", [S.SUBMITTED, S.ARCHIVED, S.DISPOSED])
async def test_qc_is_refused_outside_the_states_it_belongs_to_naming_them(
    database: Database, status: SampleStatus
) -> None:
    manager = staff_actor(role=Role.MANAGER)
    await _without_signatures(database, manager)
    sample = await new_sample(database, manager, data_location="s3://facility/run-7/")
    if status is not S.SUBMITTED:
        await _move(database, manager, sample.id, S.RECEIVED, S.QC)
        async with database.write_session() as session:
            await service.record_qc(session, manager, sample.id, QcIn(kind=QcKind.A260_280, value=1.9))
        path = [S.LIBRARY_PREP, S.SEQUENCING, S.ANALYSIS, S.DELIVERED, S.ARCHIVED]
        await _move(database, manager, sample.id, *path, *([S.DISPOSED] if status is S.DISPOSED else []))
    with pytest.raises(QcNotAllowed) as refused:
        async with database.write_session() as session:
            await service.record_qc(session, manager, sample.id, QcIn(kind=QcKind.DIN, value=8.0))
    assert refused.value.extra["allowed"] == ["received", "qc", "library_prep", "sequencing", "analysis", "on_hold"]
    assert refused.value.extra["current_status"] == status.value


async def test_a_due_date_in_the_past_is_refused_naming_the_field(database: Database) -> None:
    actor = staff_actor()
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    with pytest.raises(InvalidSampleField) as refused:
        async with database.write_session() as session:
            await service.create_sample(session, actor, SampleCreate.model_validate(sample_body(due_date=yesterday)))
    assert [error["field"] for error in refused.value.extra["errors"]] == ["due_date"]

    sample = await new_sample(database, actor)
    with pytest.raises(InvalidSampleField) as refused:
        async with database.write_session() as session:
            await service.update_sample(
                session,
                actor,
                sample.id,
                SampleUpdate.model_validate({"due_date": yesterday}),
                f'"{sample.id}-{sample.version}"',
            )
    assert [error["field"] for error in refused.value.extra["errors"]] == ["due_date"]


async def test_a_submitter_cannot_be_assigned_the_work(database: Database) -> None:
    tenant = await make_tenant(database)
    manager = staff_actor(tenant, Role.MANAGER)
    submitter = await make_member(database, tenant, Role.SUBMITTER)
    technician = await make_member(database, tenant, Role.TECHNICIAN)
    with pytest.raises(InvalidSampleField) as refused:
        async with database.write_session() as session:
            body = SampleCreate.model_validate(sample_body(assigned_to=str(submitter.user_id)))
            await service.create_sample(session, manager, body)
    assert [error["field"] for error in refused.value.extra["errors"]] == ["assigned_to"]

    sample = await new_sample(database, manager, assigned_to=str(technician.user_id))
    assert sample.assigned_to == technician.user_id
    with pytest.raises(InvalidSampleField) as refused:
        async with database.write_session() as session:
            await service.update_step(session, manager, sample.id, 1, StepUpdate(assignee_id=submitter.user_id))
    assert [error["field"] for error in refused.value.extra["errors"]] == ["assignee_id"]
