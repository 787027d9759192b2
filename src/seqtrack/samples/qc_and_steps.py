"""QC measurements with their verdicts, and the processing steps people start and finish."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity import service as identity_service
from seqtrack.identity.errors import UserNotFound
from seqtrack.platform.actor import Actor
from seqtrack.platform.etag import check_if_match
from seqtrack.platform.models import new_id, utcnow
from seqtrack.samples import lifecycle, repository, rules
from seqtrack.samples.configuration import settings_for_write
from seqtrack.samples.errors import (
    InvalidSampleField,
    QcNotAllowed,
    StepNotFound,
)
from seqtrack.samples.events import SampleEvent
from seqtrack.samples.models import ProcessingStep, QcMeasurement
from seqtrack.samples.reading import get_sample
from seqtrack.samples.registration import may_do_the_work
from seqtrack.samples.schemas import (
    QcIn,
    StepStatus,
    StepUpdate,
)
from seqtrack.samples.writing import describe_change, refuse_if_frozen, write_changes


async def record_qc(
    session: AsyncSession, actor: Actor, sample_id: uuid.UUID, body: QcIn, if_match: str | None = None
) -> QcMeasurement:
    sample = await get_sample(session, actor, sample_id)
    check_if_match(if_match, sample.id, sample.version, required=False)
    if sample.status not in lifecycle.QC_STATES:
        allowed = [state.value for state in lifecycle.QC_STATES]
        raise QcNotAllowed(
            f"{sample.human_id} is {sample.status}; QC is recorded only while it is {', '.join(allowed)}.",
            current_status=sample.status,
            allowed=allowed,
        )
    settings = await settings_for_write(session, actor.tenant_id)
    judgement = rules.judge(body.kind, body.value, settings.qc_thresholds)
    measurement = QcMeasurement(
        id=new_id(),
        tenant_id=actor.tenant_id,
        sample_id=sample.id,
        kind=body.kind.value,
        value=body.value,
        unit=body.unit or rules.QC_UNITS[body.kind],
        instrument=body.instrument,
        judgement=judgement.value,
        measured_by=actor.user_id or actor.principal_id,
        measured_by_display=actor.display,
        measured_at=body.measured_at or utcnow(),
        notes=body.notes,
    )
    session.add(measurement)
    field = rules.QC_SAMPLE_FIELD[body.kind]
    value: float | int = round(body.value) if field == "fragment_size_bp" else body.value
    changes: dict[str, tuple[Any, Any]] = {}
    if getattr(sample, field) != value:
        changes[field] = (getattr(sample, field), value)
        setattr(sample, field, value)
    measured = {
        "measurement_id": str(measurement.id),
        "kind": measurement.kind,
        "value": measurement.value,
        "unit": measurement.unit,
        "instrument": measurement.instrument,
        "judgement": measurement.judgement,
        "measured_at": measurement.measured_at,
    }
    await write_changes(
        session, actor, [describe_change(sample, SampleEvent.QC_RECORDED, changes=changes, data=measured)]
    )
    return measurement


async def update_step(
    session: AsyncSession,
    actor: Actor,
    sample_id: uuid.UUID,
    position: int,
    body: StepUpdate,
    if_match: str | None = None,
) -> ProcessingStep:
    sample = await get_sample(session, actor, sample_id)
    check_if_match(if_match, sample.id, sample.version, required=False)
    refuse_if_frozen(sample)
    step = next((step for step in await repository.steps(session, sample.id) if step.position == position), None)
    if step is None:
        raise StepNotFound(f"{sample.human_id} has no step {position}.", position=position)
    wanted = body.model_dump(exclude_unset=True)
    if wanted.get("assignee_id") is not None:
        try:
            _user, membership = await identity_service.get_member(session, actor, wanted["assignee_id"])
        except UserNotFound:
            raise InvalidSampleField(
                "The step's assignee is not a member of this facility.",
                errors=[{"field": "assignee_id", "message": "no such user in this facility"}],
            ) from None
        if not may_do_the_work(membership.role):
            raise InvalidSampleField(
                f"A {membership.role} cannot be assigned a processing step.",
                errors=[{"field": "assignee_id", "message": f"a {membership.role} cannot be assigned the work"}],
            )
    changes = {name: (getattr(step, name), value) for name, value in wanted.items() if getattr(step, name) != value}
    if not changes:
        return step
    now = utcnow()
    if "status" in changes:
        status = StepStatus(changes["status"][1])
        if status is StepStatus.IN_PROGRESS and step.started_at is None:
            changes["started_at"] = (None, now)
        if status in (StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED):
            changes["finished_at"] = (step.finished_at, now)
            if status is not StepStatus.SKIPPED and step.started_at is None:
                changes["started_at"] = (None, now)
        if status in (StepStatus.PENDING, StepStatus.IN_PROGRESS) and step.finished_at is not None:
            changes["finished_at"] = (step.finished_at, None)
    for name, (_old, value) in changes.items():
        setattr(step, name, value)
    step_changes = {f"steps.{position}.{name}": change for name, change in changes.items()}
    event = describe_change(
        sample, SampleEvent.STEP_UPDATED, changes=step_changes, data={"step": position, "step_name": step.name}
    )
    await write_changes(session, actor, [event])
    return step
