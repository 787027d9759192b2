"""Registering samples, one at a time or a whole import at once, and editing their details."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.audit import service as audit_service
from seqtrack.events.recorder import DomainEvent, record, stage_many
from seqtrack.identity import service as identity_service
from seqtrack.identity.errors import LabNotFound, UserNotFound
from seqtrack.platform.actor import Actor
from seqtrack.platform.bulk import insert_records, insert_rows
from seqtrack.platform.etag import check_if_match
from seqtrack.platform.models import new_id, new_ids, utcnow
from seqtrack.platform.permissions import Permission, Role, permissions_for
from seqtrack.samples import repository, rules
from seqtrack.samples.configuration import settings_for_write
from seqtrack.samples.errors import (
    DuplicateBarcode,
    InvalidSampleField,
)
from seqtrack.samples.events import SampleEvent
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.models import ProcessingStep, Sample, SampleSettings
from seqtrack.samples.reading import get_sample
from seqtrack.samples.repository import AGGREGATE
from seqtrack.samples.schemas import (
    PRIORITY_RANK,
    Priority,
    SampleCreate,
    SampleUpdate,
    StepStatus,
)
from seqtrack.samples.writing import (
    SNAPSHOT_FIELDS,
    count_after_commit,
    describe_change,
    flush_new,
    next_number,
    refuse_if_frozen,
    search_text,
    write_changes,
)


def _new_sample_values(
    actor: Actor,
    settings: SampleSettings,
    number: int,
    body: SampleCreate,
    now: datetime,
    sample_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """A just-submitted sample's row, numbered, with its due time from the facility's turnaround targets."""
    values = body.model_dump()
    human_id = rules.human_id(settings.id_prefix, number)
    values.update(
        id=sample_id or new_id(),
        tenant_id=actor.tenant_id,
        number=number,
        human_id=human_id,
        priority_rank=PRIORITY_RANK[body.priority],
        due_at=rules.due_at(body.due_date, body.priority, now, settings.turnaround_hours),
        status=SampleStatus.SUBMITTED.value,
        held_from=None,
        status_reason=None,
        status_changed_at=now,
        received_at=None,
        delivered_at=None,
        created_at=now,
        updated_at=now,
        version=1,
        search_text=rules.search_text(human_id, body.barcode, body.name, body.submitter_name, body.organism),
    )
    return values


STEP_COLUMNS = ("id", "tenant_id", "sample_id", "position", "name", "expected_hours", "status")


def _step_records(
    settings: SampleSettings, tenant_id: uuid.UUID, sample_ids: Sequence[uuid.UUID]
) -> list[tuple[Any, ...]]:
    """Each sample's planned steps, pending, as rows laid out as :data:`STEP_COLUMNS`."""
    planned = [
        (position, str(step["name"]), float(step["expected_hours"]))
        for position, step in enumerate(settings.step_template, start=1)
    ]
    ids = iter(new_ids(len(sample_ids) * len(planned)))
    pending = StepStatus.PENDING.value
    return [
        (next(ids), tenant_id, sample_id, position, name, hours, pending)
        for sample_id in sample_ids
        for position, name, hours in planned
    ]


def _created(values: Mapping[str, Any], step_names: list[str], origin: Mapping[str, Any] | None) -> DomainEvent:
    return DomainEvent(
        type=SampleEvent.CREATED,
        aggregate_type=AGGREGATE,
        aggregate_id=values["id"],
        data={"human_id": values["human_id"], "lab_id": values["lab_id"], "steps": step_names, **(origin or {})},
        # The new sample's values are stored once, as changes from nothing (made JSON where the event is stored).
        changes={name: (None, value) for name in SNAPSHOT_FIELDS if (value := values.get(name)) is not None},
    )


async def create_sample(session: AsyncSession, actor: Actor, body: SampleCreate) -> Sample:
    number = await next_number(session, actor.tenant_id)
    settings = await settings_for_write(session, actor.tenant_id)
    values = body.model_dump()
    _check_billing_code(values.get("billing_code"), settings)
    await _check_references(session, actor, values)
    now = utcnow()
    new = _new_sample_values(actor, settings, number, body, now)
    sample = Sample(**new)
    session.add(sample)
    # The unique index, not a prior SELECT, decides a barcode taken meanwhile.
    await flush_new(session, sample)
    steps = [
        ProcessingStep(**dict(zip(STEP_COLUMNS, step, strict=True)))
        for step in _step_records(settings, actor.tenant_id, [sample.id])
    ]
    session.add_all(steps)
    await record(
        session,
        _created(new, [step.name for step in steps], None),
        actor,
        version=sample.version,
        occurred_at=now,
    )
    await session.flush()
    count_after_commit(session, SampleStatus.SUBMITTED, None)
    return sample


async def create_samples(
    session: AsyncSession,
    actor: Actor,
    bodies: Sequence[SampleCreate],
    *,
    origin: Mapping[str, Any] | None = None,
) -> list[uuid.UUID]:
    """Create every one of ``bodies`` or none, in the caller's unit of work.

    For imports of thousands of tubes: each sample still gets its row, its steps,
    its ``sample.created`` event, audit entry and outbox row, exactly as
    :func:`create_sample` writes them, but numbers are claimed once per batch and
    each kind of row is sent as one statement of plain values (no ORM object per
    row), so a batch costs a few statements and memory stays flat however many
    batches one transaction holds. A refusal names the batch index of each
    offending body (``row``). ``origin`` (e.g. the submission) goes into every
    event's data so the history says where a sample came from.
    """
    if not bodies:
        return []
    last = await next_number(session, actor.tenant_id, count=len(bodies))
    settings = await settings_for_write(session, actor.tenant_id)
    errors: list[dict[str, Any]] = []
    for index, body in enumerate(bodies):
        problem = rules.billing_code_problem(body.billing_code, settings.billing_code_pattern)
        if problem is not None:
            errors.append({"row": index, "field": "billing_code", "message": problem})
    if errors:
        raise InvalidSampleField(f"{len(errors)} of {len(bodies)} samples are not valid.", errors=errors)
    for field in ("lab_id", "submitter_id", "assigned_to"):
        for value in {getattr(body, field) for body in bodies} - {None}:
            await _check_references(session, actor, {field: value})
    now = utcnow()
    first = last - len(bodies) + 1
    step_names = [str(step["name"]) for step in settings.step_template]
    ids = new_ids(len(bodies))
    samples = [
        _new_sample_values(actor, settings, number, body, now, sample_id)
        for number, body, sample_id in zip(range(first, last + 1), bodies, ids, strict=True)
    ]
    try:
        await insert_rows(session, Sample, samples)
    except IntegrityError as exc:
        # A barcode taken by another writer since the caller checked: the unique index decides.
        raise DuplicateBarcode("A barcode of this batch is already on another sample.", field="barcode") from exc
    await insert_records(session, ProcessingStep, STEP_COLUMNS, _step_records(settings, actor.tenant_id, ids))
    await stage_many(session, [(_created(sample, step_names, origin), 1) for sample in samples], actor, occurred_at=now)
    # Chain this batch's audit entries now rather than at commit, so they too can be let go.
    await audit_service.seal_pending(session)
    count_after_commit(session, SampleStatus.SUBMITTED, None, count=len(samples))
    return [sample["id"] for sample in samples]


async def taken_barcodes(session: AsyncSession, tenant_id: uuid.UUID, barcodes: Sequence[str]) -> set[str]:
    """Which of ``barcodes`` are already on a sample of the facility (barcodes are unique per facility)."""
    return await repository.taken_barcodes(session, tenant_id, barcodes) if barcodes else set()


async def taken_names(
    session: AsyncSession, tenant_id: uuid.UUID, project: str | None, names: Sequence[str]
) -> set[str]:
    """Which of ``names`` a sample of the same project already has (a name is unique within its project)."""
    return await repository.taken_names(session, tenant_id, project, names) if names else set()


async def update_sample(
    session: AsyncSession, actor: Actor, sample_id: uuid.UUID, body: SampleUpdate, if_match: str | None
) -> Sample:
    sample = await get_sample(session, actor, sample_id)
    check_if_match(if_match, sample.id, sample.version, required=True)
    refuse_if_frozen(sample)
    settings = await settings_for_write(session, actor.tenant_id)
    wanted = body.model_dump(exclude_unset=True)
    changes = {name: (getattr(sample, name), value) for name, value in wanted.items() if getattr(sample, name) != value}
    if not changes:
        return sample
    if "billing_code" in changes:
        _check_billing_code(changes["billing_code"][1], settings)
    await _check_references(session, actor, {name: new for name, (_old, new) in changes.items()})
    new_barcode = changes.get("barcode", (None, None))[1]
    if new_barcode is not None and await repository.barcode_taken(session, actor.tenant_id, new_barcode, sample.id):
        raise DuplicateBarcode(f"Barcode {new_barcode!r} is already on another sample.", field="barcode")
    for name, (_old, value) in changes.items():
        setattr(sample, name, value)
    if "priority" in changes or "due_date" in changes:
        priority = Priority(sample.priority)
        sample.priority_rank = PRIORITY_RANK[priority]
        new_due = rules.due_at(sample.due_date, priority, sample.created_at, settings.turnaround_hours)
        if new_due != sample.due_at:
            changes["due_at"] = (sample.due_at, new_due)
            sample.due_at = new_due
    sample.search_text = search_text(sample)
    await write_changes(session, actor, [describe_change(sample, SampleEvent.UPDATED, changes=changes)])
    return sample


def _check_billing_code(code: str | None, settings: SampleSettings) -> None:
    problem = rules.billing_code_problem(code, settings.billing_code_pattern)
    if problem is not None:
        raise InvalidSampleField(
            f"Billing code {code!r} {problem}.", errors=[{"field": "billing_code", "message": problem}]
        )


async def _check_references(session: AsyncSession, actor: Actor, values: Mapping[str, Any]) -> None:
    """Labs and people are identity's; a sample may only name ones of the caller's facility.

    An unknown lab would make the sample invisible to that lab's submitters, so
    it is refused here rather than discovered by a missing tube.
    """
    errors: list[dict[str, Any]] = []
    if values.get("lab_id") is not None:
        try:
            await identity_service.get_lab(session, actor, values["lab_id"])
        except LabNotFound:
            errors.append({"field": "lab_id", "message": "no such lab in this facility"})
    for field in ("submitter_id", "assigned_to"):
        if values.get(field) is not None:
            try:
                _user, membership = await identity_service.get_member(session, actor, values[field])
            except UserNotFound:
                errors.append({"field": field, "message": "no such user in this facility"})
                continue
            if field == "assigned_to" and not may_do_the_work(membership.role):
                errors.append({"field": field, "message": f"a {membership.role} cannot be assigned the work"})
    due = values.get("due_date")
    if due is not None and due < utcnow().date():
        errors.append({"field": "due_date", "message": f"{due.isoformat()} is in the past"})
    if errors:
        raise InvalidSampleField(
            "Not accepted: " + "; ".join(f"{error['field']} ({error['message']})" for error in errors) + ".",
            errors=errors,
        )


def may_do_the_work(role: str) -> bool:
    # Assignments are bench work: staff who may change samples, never the people who sent them.
    return Permission.SAMPLES_WRITE in permissions_for(Role(role)) and role != Role.SUBMITTER
