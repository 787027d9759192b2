"""Sample use cases: the only code that changes a sample, always through the recorder.

Each change writes the new state, bumps the sample's version (its ETag), and
records one event with per-field old → new values, so the audit trail shows
the change and the event store can rebuild the sample at any past moment.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from seqtrack.audit import service as audit_service
from seqtrack.events import history
from seqtrack.events.history import PastEvent
from seqtrack.events.recorder import DomainEvent, record, stage, to_json
from seqtrack.identity import service as identity_service
from seqtrack.identity.errors import LabNotFound, UserNotFound
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database, after_commit, database_of
from seqtrack.platform.etag import check_if_match
from seqtrack.platform.models import new_id, utcnow
from seqtrack.platform.permissions import Permission, Role, permissions_for
from seqtrack.samples import lifecycle, metrics, repository, rules, workflow
from seqtrack.samples.errors import (
    BulkTransitionRefused,
    DuplicateBarcode,
    IllegalTransition,
    InvalidSampleField,
    InvalidSettings,
    QcNotAllowed,
    SampleChanged,
    SampleClosed,
    SampleNotFound,
    SignatureRejected,
    SignatureRequired,
    StepNotFound,
    TransitionGuardFailed,
)
from seqtrack.samples.events import SETTINGS_UPDATED, SampleEvent
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.models import ProcessingStep, QcMeasurement, Sample, SampleCounter, SampleSettings
from seqtrack.samples.repository import AGGREGATE
from seqtrack.samples.schemas import (
    PRIORITY_RANK,
    Judgement,
    Priority,
    QcIn,
    SampleCreate,
    SampleOut,
    SampleUpdate,
    SettingsUpdate,
    SignatureIn,
    SignatureMeaning,
    StepStatus,
    StepUpdate,
)

SETTINGS_AGGREGATE = "sample_settings"
_PENDING_COUNTS = "seqtrack.samples.pending_counts"
CLEARABLE_SETTINGS = frozenset({"billing_code_pattern"})

# The sample's own facts: sample.created carries all of them, later events carry
# each changed one's new value, so folding the events rebuilds the row exactly.
SNAPSHOT_FIELDS = (
    "human_id",
    "barcode",
    "name",
    "lab_id",
    "project",
    "submitter_id",
    "submitter_name",
    "sample_type",
    "organism",
    "genome_size_bp",
    "concentration_ng_ul",
    "volume_ul",
    "buffer",
    "a260_280",
    "a260_230",
    "fragment_size_bp",
    "integrity_number",
    "flow_cell_type",
    "flow_cell_count",
    "library_kit",
    "barcoding_kit",
    "library_barcode",
    "basecalling_model",
    "priority",
    "due_date",
    "due_at",
    "billing_code",
    "assigned_to",
    "notes",
    "data_location",
    "status",
    "held_from",
    "status_reason",
    "received_at",
    "delivered_at",
)

# Once disposed, a tube no longer exists; its record stays, frozen.
FROZEN = (SampleStatus.DISPOSED,)

# ---------------------------------------------------------------- settings


def default_settings(tenant_id: uuid.UUID) -> SampleSettings:
    return SampleSettings(
        tenant_id=tenant_id,
        id_prefix=rules.DEFAULT_ID_PREFIX,
        billing_code_pattern=None,
        qc_thresholds={str(kind): value for kind, value in rules.DEFAULT_QC_THRESHOLDS.items()},
        step_template=[dict(step) for step in rules.DEFAULT_STEPS],
        signed_transitions=list(rules.DEFAULT_SIGNED_TRANSITIONS),
        turnaround_hours={str(priority): hours for priority, hours in rules.DEFAULT_TURNAROUND_HOURS.items()},
        version=0,
        updated_at=utcnow(),
    )


async def read_settings(session: AsyncSession, tenant_id: uuid.UUID) -> SampleSettings:
    """The tenant's settings; the facility defaults (unsaved) until someone edits them."""
    return await repository.settings(session, tenant_id) or default_settings(tenant_id)


# Every write reads the tenant's rules; they change rarely. The statement that
# loads the sample (or numbers a new one) also reads the settings' version, and
# the rules come from this cache while that version matches: no extra statement,
# and never a stale rule, on every replica.
_RULES: dict[tuple[str, uuid.UUID], SampleSettings] = {}
_SETTINGS_VERSIONS = "seqtrack.samples.settings_versions"


def _remember_settings_version(session: AsyncSession, tenant_id: uuid.UUID, version: int | None) -> None:
    session.info.setdefault(_SETTINGS_VERSIONS, {})[tenant_id] = version


async def settings_for_write(session: AsyncSession, tenant_id: uuid.UUID) -> SampleSettings:
    """The rules a change in this unit of work applies: a shared, read-only copy.

    Saved on first use, so a facility keeps the defaults it started with even
    when a later release changes them.
    """
    key = (_cache_key(session), tenant_id)
    known: dict[uuid.UUID, int | None] = session.info.get(_SETTINGS_VERSIONS, {})
    cached = _RULES.get(key)
    if cached is not None and tenant_id in known and known[tenant_id] == cached.version:
        return cached
    row = await _settings_row(session, tenant_id)
    rules_copy = SampleSettings(**{column.key: deepcopy(getattr(row, column.key)) for column in _SETTINGS_COLUMNS})
    _RULES[key] = rules_copy
    _remember_settings_version(session, tenant_id, rules_copy.version)
    return rules_copy


async def _settings_row(session: AsyncSession, tenant_id: uuid.UUID) -> SampleSettings:
    existing = await repository.settings(session, tenant_id)
    if existing is not None:
        return existing
    defaults = default_settings(tenant_id)
    insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
    values = {column.key: getattr(defaults, column.key) for column in _SETTINGS_COLUMNS}
    await session.execute(insert(SampleSettings).values(**values).on_conflict_do_nothing(index_elements=["tenant_id"]))
    stored = await repository.settings(session, tenant_id)
    assert stored is not None
    return stored


_SETTINGS_COLUMNS = tuple(SampleSettings.__table__.columns)


def _cache_key(session: AsyncSession) -> str:
    database = database_of(session)
    return database.url if database is not None else ""


async def update_settings(
    session: AsyncSession, actor: Actor, body: SettingsUpdate, if_match: str | None
) -> SampleSettings:
    current = await _settings_row(session, actor.tenant_id)
    check_if_match(if_match, current.tenant_id, current.version, required=True)
    errors: list[dict[str, Any]] = []
    new_values = body.model_dump(mode="json", exclude_unset=True)
    if "billing_code_pattern" in new_values and new_values["billing_code_pattern"] is not None:
        try:
            re.compile(new_values["billing_code_pattern"])
        except re.error as exc:
            errors.append({"field": "billing_code_pattern", "message": f"not a regular expression: {exc}"})
    for name in new_values.get("signed_transitions") or []:
        if name not in rules.TRANSITION_NAMES:
            errors.append({"field": "signed_transitions", "message": f"{name!r} is not a transition"})
    if "qc_thresholds" in new_values:
        new_values["qc_thresholds"] = {**current.qc_thresholds, **new_values["qc_thresholds"]}
    if "turnaround_hours" in new_values:
        new_values["turnaround_hours"] = {**current.turnaround_hours, **new_values["turnaround_hours"]}
    if errors:
        raise InvalidSettings("Some settings are not valid.", errors=errors)
    changes = {
        name: (getattr(current, name), value)
        for name, value in new_values.items()
        # Only the billing pattern may be cleared (no pattern: any code); the rest keep a value.
        if (value is not None or name in CLEARABLE_SETTINGS) and getattr(current, name) != value
    }
    if not changes:
        return current
    for name, (_old, value) in changes.items():
        setattr(current, name, value)
    current.version += 1
    stored = await record(
        session,
        DomainEvent(
            type=SETTINGS_UPDATED,
            aggregate_type=SETTINGS_AGGREGATE,
            aggregate_id=current.tenant_id,
            changes=changes,
        ),
        actor,
        version=current.version,
    )
    current.updated_at = stored.occurred_at
    await session.flush()
    return current


# ---------------------------------------------------------------- reading


async def get_sample(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> Sample:
    """A visible sample to change, loaded once per unit of work with the tenant's settings version."""
    found = await repository.get(session, actor, sample_id)
    if found is not None and found.settings_version_read:
        _remember_settings_version(session, actor.tenant_id, found.settings_version)
    sample = found.sample if found is not None else None
    if sample is None:
        raise SampleNotFound(f"No sample {sample_id} here.", sample_id=str(sample_id))
    return sample


async def read_sample(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> repository.SampleRow:
    """A visible sample's shown columns, read in one statement."""
    row = await repository.get_row(session, actor, sample_id)
    if row is None:
        raise SampleNotFound(f"No sample {sample_id} here.", sample_id=str(sample_id))
    return row


async def read_sample_by_code(session: AsyncSession, actor: Actor, code: str) -> repository.SampleRow:
    """The visible sample a scanned barcode or typed human ID names."""
    row = await repository.get_row_by_code(session, actor, code.strip())
    if row is None:
        raise SampleNotFound(f"No sample here has the barcode or ID {code.strip()!r}.", lookup=code.strip())
    return row


async def sample_as_of(session: AsyncSession, actor: Actor, sample_id: uuid.UUID, at: datetime) -> SampleOut:
    """The sample as it was at ``at``, rebuilt from its events alone."""
    sample = await get_sample(session, actor, sample_id)
    past = await history.of_aggregate(session, actor.tenant_id, AGGREGATE, sample.id, until=at)
    if not past:
        raise SampleNotFound(f"Sample {sample.human_id} did not exist yet at {at.isoformat()}.")
    return fold(sample.id, past)


def fold(sample_id: uuid.UUID, past: Sequence[PastEvent]) -> SampleOut:
    created, *later = past
    # Newer creations carry their values once, as changes from nothing; older ones also as data.
    initial = {**created.data, **{name: new for name, (_old, new) in created.data.get("changes", {}).items()}}
    state: dict[str, Any] = {name: initial.get(name) for name in SNAPSHOT_FIELDS}
    state.update(
        id=sample_id,
        created_at=created.occurred_at,
        updated_at=created.occurred_at,
        status_changed_at=created.occurred_at,
        version=created.version,
    )
    for event in later:
        changes: Mapping[str, Any] = event.data.get("changes", {})
        for name, (_old, new) in changes.items():
            if name in SNAPSHOT_FIELDS:
                state[name] = new
        if "status" in changes:
            state["status_changed_at"] = event.occurred_at
        state["updated_at"] = event.occurred_at
        state["version"] = event.version
    return SampleOut.model_validate(state)


async def sample_events(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> list[PastEvent]:
    sample = await get_sample(session, actor, sample_id)
    return await history.of_aggregate(session, actor.tenant_id, AGGREGATE, sample.id)


async def sample_steps(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> list[ProcessingStep]:
    sample = await get_sample(session, actor, sample_id)
    return await repository.steps(session, sample.id)


async def sample_qc(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> list[QcMeasurement]:
    sample = await get_sample(session, actor, sample_id)
    return await repository.qc_measurements(session, [sample.id])


@dataclass(frozen=True)
class SampleRecord:
    """A sample with everything its page shows: fields, steps, QC and history."""

    row: repository.SampleRow
    steps: list[ProcessingStep]
    qc: list[QcMeasurement]
    events: list[PastEvent]


async def sample_record(session: AsyncSession, actor: Actor, sample_id: uuid.UUID) -> SampleRecord:
    """One visibility check, then the sample's steps, QC and events (a page's worth, four statements)."""
    row = await read_sample(session, actor, sample_id)
    return SampleRecord(
        row=row,
        steps=await repository.steps(session, row.id),
        qc=await repository.qc_measurements(session, [row.id]),
        events=await history.of_aggregate(session, actor.tenant_id, AGGREGATE, row.id),
    )


# ---------------------------------------------------------------- for other domains


async def read_samples(
    session: AsyncSession, actor: Actor, sample_ids: Sequence[uuid.UUID]
) -> list[repository.SampleRow]:
    """The visible ones of these samples, shown columns only, in one statement (storage's grids and labels)."""
    return await repository.rows_by_ids(session, actor, sample_ids)


async def find_sample(session: AsyncSession, actor: Actor, code: str) -> repository.SampleRow | None:
    """The visible sample a scanned code names: its barcode, its ID (SEQ-000001) or its UUID."""
    try:
        sample_id = uuid.UUID(code)
    except ValueError:
        return await repository.row_by_code(session, actor, code)
    return await repository.get_row(session, actor, sample_id)


async def find_samples(session: AsyncSession, actor: Actor, codes: Sequence[str]) -> dict[str, repository.SampleRow]:
    """Each scanned code that names a visible sample (by barcode or ID), mapped to it; a rack of tubes at once."""
    rows = await repository.rows_by_codes(session, actor, codes)
    by_barcode = {row.barcode: row for row in rows if row.barcode is not None}
    by_human_id = {row.human_id: row for row in rows}
    found: dict[str, repository.SampleRow] = {}
    for code in codes:
        row = by_barcode.get(code) or by_human_id.get(code.upper())
        if row is not None:
            found[code] = row
    return found


async def newest_samples(session: AsyncSession, actor: Actor, limit: int) -> list[repository.SampleRow]:
    """The visible samples, newest first (demo data places them in storage)."""
    rows, _next = await repository.page(session, actor, repository.SampleFilter(), "-created_at", None, limit)
    return rows


async def search_samples(session: AsyncSession, actor: Actor, text: str, limit: int = 20) -> list[repository.SampleRow]:
    """Visible samples whose ID, barcode, name, submitter or organism contains ``text``, newest first."""
    exact = await find_sample(session, actor, text.strip())
    if exact is not None:
        return [exact]
    rows, _next = await repository.page(session, actor, repository.SampleFilter(q=text), "-created_at", None, limit)
    return rows


# ---------------------------------------------------------------- creating and editing


async def create_sample(session: AsyncSession, actor: Actor, body: SampleCreate) -> Sample:
    number = await _next_number(session, actor.tenant_id)
    settings = await settings_for_write(session, actor.tenant_id)
    values = body.model_dump()
    _check_billing_code(values.get("billing_code"), settings)
    await _check_references(session, actor, values)
    now = utcnow()
    sample = Sample(
        id=new_id(),
        tenant_id=actor.tenant_id,
        number=number,
        human_id=rules.human_id(settings.id_prefix, number),
        **values,
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
    )
    sample.search_text = _search_text(sample)
    session.add(sample)
    # The unique index, not a prior SELECT, decides a barcode taken meanwhile.
    await _flush_new(session, sample)
    steps = [
        ProcessingStep(
            id=new_id(),
            tenant_id=actor.tenant_id,
            sample_id=sample.id,
            position=position,
            name=step["name"],
            expected_hours=float(step["expected_hours"]),
            status=StepStatus.PENDING.value,
        )
        for position, step in enumerate(settings.step_template, start=1)
    ]
    session.add_all(steps)
    await record(
        session,
        DomainEvent(
            type=SampleEvent.CREATED,
            aggregate_type=AGGREGATE,
            aggregate_id=sample.id,
            # The new sample's values are stored once, as changes from nothing.
            data={"human_id": sample.human_id, "lab_id": sample.lab_id, "steps": [step.name for step in steps]},
            changes={name: (None, value) for name, value in snapshot(sample).items() if value is not None},
        ),
        actor,
        version=sample.version,
        occurred_at=now,
    )
    await session.flush()
    _count_after_commit(session, SampleStatus.SUBMITTED, None)
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
    the rows are sent in batches and then let go, so memory stays flat however
    many batches one transaction holds. A refusal names the batch index of each
    offending body (``row``). ``origin`` (e.g. the submission) goes into every
    event's data so the history says where a sample came from.
    """
    if not bodies:
        return []
    last = await _next_number(session, actor.tenant_id, count=len(bodies))
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
    samples: list[Sample] = []
    steps: list[ProcessingStep] = []
    for number, body in enumerate(bodies, start=first):
        values = body.model_dump()
        sample = Sample(
            id=new_id(),
            tenant_id=actor.tenant_id,
            number=number,
            human_id=rules.human_id(settings.id_prefix, number),
            **values,
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
        )
        sample.search_text = _search_text(sample)
        samples.append(sample)
        steps.extend(
            ProcessingStep(
                id=new_id(),
                tenant_id=actor.tenant_id,
                sample_id=sample.id,
                position=position,
                name=step["name"],
                expected_hours=float(step["expected_hours"]),
                status=StepStatus.PENDING.value,
            )
            for position, step in enumerate(settings.step_template, start=1)
        )
    session.add_all(samples)
    try:
        await session.flush()
    except IntegrityError as exc:
        # A barcode taken by another writer since the caller checked: the unique index decides.
        raise DuplicateBarcode("A barcode of this batch is already on another sample.", field="barcode") from exc
    session.add_all(steps)
    step_names = [step["name"] for step in settings.step_template]
    staged = [
        stage(
            session,
            DomainEvent(
                type=SampleEvent.CREATED,
                aggregate_type=AGGREGATE,
                aggregate_id=sample.id,
                data={"human_id": sample.human_id, "lab_id": sample.lab_id, "steps": step_names, **(origin or {})},
                changes={name: (None, value) for name, value in snapshot(sample).items() if value is not None},
            ),
            actor,
            version=sample.version,
            occurred_at=now,
        )
        for sample in samples
    ]
    await session.flush()
    # Chain this batch's audit entries now rather than at commit, so they too can be let go.
    sealed = await audit_service.seal_pending(session)
    for row in (*samples, *steps, *staged, *sealed):
        session.expunge(row)
    _count_after_commit(session, SampleStatus.SUBMITTED, None, count=len(samples))
    return [sample.id for sample in samples]


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
    _refuse_if_frozen(sample)
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
    sample.search_text = _search_text(sample)
    await _write(session, actor, [_change(sample, SampleEvent.UPDATED, changes=changes)])
    return sample


# ---------------------------------------------------------------- lifecycle


@dataclass(frozen=True)
class PresentedSignature:
    """A signature as the caller presented it, its password already checked.

    The check (argon2, and a failure counted toward the lockout) happens in
    :func:`present_signature`, before the unit of work that applies it: slow
    work never runs inside a transaction or the SQLite writer turn.
    """

    meaning: SignatureMeaning | None
    password_given: bool
    password_matches: bool


async def present_signature(
    database: Database, actor: Actor, signature: SignatureIn | None
) -> PresentedSignature | None:
    """Check a presented signature's password; call before opening the unit of work that signs."""
    if signature is None:
        return None
    matches = False
    if signature.password:
        # Identity owns passwords (and the lockout a wrong one counts towards).
        matches = await identity_service.check_signature(database, actor, signature.password)
    return PresentedSignature(signature.meaning, bool(signature.password), matches)


@dataclass(frozen=True)
class Refusal:
    sample_id: uuid.UUID
    human_id: str | None
    reason: str
    allowed: list[str]

    def as_problem(self) -> dict[str, Any]:
        return {
            "sample_id": str(self.sample_id),
            "human_id": self.human_id,
            "reason": self.reason,
            "allowed": self.allowed,
        }


async def transition(
    session: AsyncSession,
    actor: Actor,
    sample_id: uuid.UUID,
    target: SampleStatus,
    *,
    reason: str | None,
    signature: PresentedSignature | None,
    if_match: str | None = None,
) -> Sample:
    _require_reason(target, reason)
    sample = await get_sample(session, actor, sample_id)
    check_if_match(if_match, sample.id, sample.version, required=False)
    facts = (await _facts(session, [sample], target))[sample.id]
    refusal = _refusal(sample, target, facts)
    if refusal is not None:
        kind = TransitionGuardFailed if refusal.allowed and target.value in refusal.allowed else IllegalTransition
        raise kind(
            f"{sample.human_id} cannot go from {sample.status} to {target.value}: {refusal.reason}.",
            sample_id=str(sample.id),
            human_id=sample.human_id,
            current_status=sample.status,
            to=target.value,
            allowed=refusal.allowed,
        )
    settings = await settings_for_write(session, actor.tenant_id)
    signed = _signature(actor, settings, [sample], target, signature)
    steps = await _steps_following(session, settings, [sample], target)
    await _write(session, actor, [_move(session, sample, target, reason, signed.get(sample.id), steps[sample.id])])
    return sample


async def bulk_transition(
    session: AsyncSession,
    actor: Actor,
    sample_ids: Sequence[uuid.UUID],
    target: SampleStatus,
    *,
    reason: str | None,
    signature: PresentedSignature | None,
) -> list[Sample]:
    """Move every listed sample or none; a refusal names each sample that blocks the batch."""
    _require_reason(target, reason)
    wanted = list(dict.fromkeys(sample_ids))
    loaded, version = await repository.get_many(session, actor, wanted)
    if loaded:
        _remember_settings_version(session, actor.tenant_id, version)
    found = {sample.id: sample for sample in loaded}
    facts = await _facts(session, loaded, target)
    refusals: list[Refusal] = []
    for sample_id in wanted:
        sample = found.get(sample_id)
        if sample is None:
            refusals.append(Refusal(sample_id, None, "no such sample here", []))
            continue
        refusal = _refusal(sample, target, facts[sample.id])
        if refusal is not None:
            refusals.append(refusal)
    if refusals:
        raise BulkTransitionRefused(
            f"{len(refusals)} of {len(wanted)} samples cannot move to {target.value}; none were changed.",
            to=target.value,
            refusals=[refusal.as_problem() for refusal in refusals],
        )
    samples = [found[sample_id] for sample_id in wanted]
    settings = await settings_for_write(session, actor.tenant_id)
    signed = _signature(actor, settings, samples, target, signature)
    steps = await _steps_following(session, settings, samples, target)
    await _write(
        session,
        actor,
        [_move(session, sample, target, reason, signed.get(sample.id), steps[sample.id]) for sample in samples],
    )
    return samples


async def move_as_system(
    session: AsyncSession, actor: Actor, sample_id: uuid.UUID, target: SampleStatus, reason: str
) -> bool:
    """Move a sample for a system job (demo data, imports of past history), if the table and guards allow.

    No signature is asked for: the system cannot sign, and the audit entry names
    the system actor, so such history never passes for a person's sign-off.
    """
    if actor.kind != "system":
        raise SignatureRejected("Only system jobs may move samples without the tenant's signature rules.")
    sample = await get_sample(session, actor, sample_id)
    facts = (await _facts(session, [sample], target))[sample.id]
    if _refusal(sample, target, facts) is not None:
        return False
    settings = await settings_for_write(session, actor.tenant_id)
    steps = await _steps_following(session, settings, [sample], target)
    await _write(session, actor, [_move(session, sample, target, reason, None, steps[sample.id])])
    return True


def _require_reason(target: SampleStatus, reason: str | None) -> None:
    if target in lifecycle.NEEDS_REASON and not (reason and reason.strip()):
        raise InvalidSampleField(
            f"Moving a sample to {target.value} needs a reason.",
            errors=[{"field": "reason", "message": f"required for {target.value}"}],
        )


def _refusal(sample: Sample, target: SampleStatus, facts: lifecycle.Facts) -> Refusal | None:
    status = SampleStatus(sample.status)
    held_from = SampleStatus(sample.held_from) if sample.held_from else None
    allowed = [state.value for state in lifecycle.allowed_targets(status, held_from)]
    step = lifecycle.find(status, target, held_from)
    if step is None:
        if status is SampleStatus.ON_HOLD and target in lifecycle.ACTIVE:
            why = f"a sample on hold returns to the state it was held in ({sample.held_from})"
        else:
            why = f"{status.value} → {target.value} is not a transition"
        return Refusal(sample.id, sample.human_id, why, allowed)
    if step.guard is not None:
        problem = step.guard(facts)
        if problem is not None:
            return Refusal(sample.id, sample.human_id, problem, allowed)
    return None


async def _facts(
    session: AsyncSession, samples: Sequence[Sample], target: SampleStatus
) -> dict[uuid.UUID, lifecycle.Facts]:
    """What the guards of these moves look at; QC is read only for moves that have a guard."""
    guarded = [sample.id for sample in samples if _guard_of(sample, target) is not None]
    latest: dict[uuid.UUID, dict[str, str]] = defaultdict(dict)
    for measurement in await repository.qc_measurements(session, guarded) if guarded else []:
        # Ordered by time: a repeat measurement replaces the earlier verdict of its kind.
        latest[measurement.sample_id][measurement.kind] = measurement.judgement
    return {
        sample.id: lifecycle.Facts(
            held_from=SampleStatus(sample.held_from) if sample.held_from else None,
            qc_measured=bool(latest[sample.id]),
            qc_failing_kinds=tuple(sorted(k for k, v in latest[sample.id].items() if v == Judgement.FAIL)),
            library_kit=sample.library_kit,
            data_location=sample.data_location,
        )
        for sample in samples
    }


def _guard_of(sample: Sample, target: SampleStatus) -> lifecycle.Guard | None:
    held_from = SampleStatus(sample.held_from) if sample.held_from else None
    step = lifecycle.find(SampleStatus(sample.status), target, held_from)
    return step.guard if step is not None else None


def _signature(
    actor: Actor,
    settings: SampleSettings,
    samples: Sequence[Sample],
    target: SampleStatus,
    signature: PresentedSignature | None,
) -> dict[uuid.UUID, dict[str, Any]]:
    """The Part 11 signature for each sample whose move the tenant marks as signed."""
    needing = [
        sample
        for sample in samples
        if lifecycle.transition_name(SampleStatus(sample.status), target) in settings.signed_transitions
    ]
    if not needing:
        return {}
    names = sorted({lifecycle.transition_name(SampleStatus(sample.status), target) for sample in needing})
    missing = []
    if signature is None or not signature.password_given:
        missing.append("signature.password")
    if signature is None or signature.meaning is None:
        missing.append("signature.meaning")
    if missing:
        raise SignatureRequired(
            f"{', '.join(names)} needs an electronic signature: re-enter your password and state its meaning "
            "(reviewed, approved or released).",
            missing=missing,
            transitions=names,
        )
    assert signature is not None
    assert signature.meaning is not None
    if actor.kind != "user":
        raise SignatureRejected("Only a person can sign; API keys and system jobs cannot.")
    if not signature.password_matches:
        raise SignatureRejected("The password does not match; the signature was not applied.")
    signed_at = utcnow()
    return {
        sample.id: {
            "signer_id": str(actor.user_id or actor.principal_id),
            "signer": actor.display,
            "signed_at": signed_at.isoformat(),
            "meaning": signature.meaning.value,
            "method": "password",
            "transition": lifecycle.transition_name(SampleStatus(sample.status), target),
            "sample": sample.human_id,
        }
        for sample in needing
    }


async def _steps_following(
    session: AsyncSession, settings: SampleSettings, samples: Sequence[Sample], target: SampleStatus
) -> dict[uuid.UUID, dict[str, tuple[Any, Any]]]:
    """Start and finish the processing steps the move of each sample implies (see ``workflow``).

    The steps are changed in the session, flushed with the samples; the changes are
    returned, as ``steps.<position>.<field>``, for the move's one event and audit entry.
    """
    states = workflow.step_states(settings.step_template)
    touched = [s.id for s in samples if workflow.may_change_steps(states, SampleStatus(s.status), target)]
    by_sample: dict[uuid.UUID, list[ProcessingStep]] = defaultdict(list)
    for step in await repository.steps_of(session, touched):
        by_sample[step.sample_id].append(step)
    now = utcnow()
    changes: dict[uuid.UUID, dict[str, tuple[Any, Any]]] = {}
    for sample in samples:
        steps = {step.position: step for step in by_sample[sample.id]}
        views = [workflow.StepView(step.position, step.name, StepStatus(step.status)) for step in steps.values()]
        changed = workflow.follow(views, states, SampleStatus(sample.status), target)
        changes[sample.id] = {}
        for position, status in changed.items():
            step = steps[position]
            wanted: dict[str, Any] = {"status": status.value}
            if step.started_at is None and status in (StepStatus.IN_PROGRESS, StepStatus.COMPLETED):
                wanted["started_at"] = now
            if status is not StepStatus.IN_PROGRESS:
                wanted["finished_at"] = now
            for name, value in wanted.items():
                changes[sample.id][f"steps.{position}.{name}"] = (getattr(step, name), value)
                setattr(step, name, value)
    return changes


def _move(
    session: AsyncSession,
    sample: Sample,
    target: SampleStatus,
    reason: str | None,
    signature: dict[str, Any] | None,
    step_changes: Mapping[str, tuple[Any, Any]],
) -> _Change:
    source = SampleStatus(sample.status)
    now = utcnow()
    changes: dict[str, tuple[Any, Any]] = {"status": (source.value, target.value)}
    held_from = source.value if target is SampleStatus.ON_HOLD else None
    if held_from != sample.held_from:
        changes["held_from"] = (sample.held_from, held_from)
    if reason != sample.status_reason:
        changes["status_reason"] = (sample.status_reason, reason)
    if target is SampleStatus.RECEIVED and sample.received_at is None:
        changes["received_at"] = (None, now)
    if target is SampleStatus.DELIVERED:
        changes["delivered_at"] = (sample.delivered_at, now)
    for name, (_old, value) in changes.items():
        setattr(sample, name, value)
    _count_after_commit(session, target, source)
    return _change(
        sample,
        SampleEvent.STATUS_CHANGED,
        changes={**changes, **step_changes},
        reason=reason,
        signature=signature,
        data={"from": source.value, "to": target.value},
    )


# ---------------------------------------------------------------- QC and steps


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
    await _write(session, actor, [_change(sample, SampleEvent.QC_RECORDED, changes=changes, data=measured)])
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
    _refuse_if_frozen(sample)
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
        if not _may_do_the_work(membership.role):
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
    event = _change(
        sample, SampleEvent.STEP_UPDATED, changes=step_changes, data={"step": position, "step_name": step.name}
    )
    await _write(session, actor, [event])
    return step


# ---------------------------------------------------------------- the one write


@dataclass(frozen=True)
class _Change:
    """A change made to a sample in memory, with the event that will record it."""

    sample: Sample
    event: DomainEvent
    occurred_at: datetime


def _change(
    sample: Sample,
    event_type: str,
    *,
    changes: Mapping[str, tuple[Any, Any]],
    data: Mapping[str, Any] | None = None,
    reason: str | None = None,
    signature: dict[str, Any] | None = None,
) -> _Change:
    """Bump the version and stamp the time on the sample, and describe the event; nothing is sent."""
    now = utcnow()
    sample.version += 1
    sample.updated_at = now
    if "status" in changes:
        sample.status_changed_at = now
    event = DomainEvent(
        type=event_type,
        aggregate_type=AGGREGATE,
        aggregate_id=sample.id,
        # Every sample event names its sample and lab: the live feed shows a
        # submitter only the events of their own labs.
        data={"human_id": sample.human_id, "lab_id": sample.lab_id, **(data or {})},
        changes=changes,
        reason=reason,
        signature=signature,
    )
    return _Change(sample, event, now)


async def _write(session: AsyncSession, actor: Actor, changes: Sequence[_Change]) -> None:
    """Each sample's one UPDATE under its optimistic lock, then their events in one batch.

    The UPDATEs go first so that a lost race is reported as the sample having
    changed (412), not as the event store refusing a second event of that version.
    """
    # Read before the flush: a failed flush expires the instances along with the transaction.
    names = {change.sample.id: change.sample.human_id for change in changes}
    try:
        # "UPDATE ... WHERE id = :id AND version = :read": a concurrent writer that
        # read the same version matches no row here and gets 412, never overwrites.
        await session.flush()
    except StaleDataError as exc:
        lone = next(iter(names)) if len(names) == 1 else None
        raise SampleChanged(
            f"{names[lone] if lone else 'A sample'} was changed by someone else meanwhile; read it again.",
            **({"sample_id": str(lone)} if lone else {}),
        ) from exc
    for change in changes:
        stage(session, change.event, actor, version=change.sample.version, occurred_at=change.occurred_at)
    await session.flush()


async def _flush_new(session: AsyncSession, sample: Sample) -> None:
    barcode = sample.barcode
    try:
        await session.flush()
    except IntegrityError as exc:
        # Two creations racing for one barcode: the unique index decides.
        raise DuplicateBarcode(f"Barcode {barcode!r} is already on another sample.", field="barcode") from exc


async def _next_number(session: AsyncSession, tenant_id: uuid.UUID, count: int = 1) -> int:
    """The tenant's next sample number (the last of ``count``), in one statement that also reads its settings version.

    The counter row's lock orders concurrent creations of a tenant.
    """
    insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
    claimed = (
        await session.execute(
            insert(SampleCounter)
            .values(tenant_id=tenant_id, last_number=count)
            .on_conflict_do_update(
                index_elements=["tenant_id"], set_={"last_number": SampleCounter.last_number + count}
            )
            .returning(SampleCounter.last_number, repository.settings_version(tenant_id))
        )
    ).one()
    _remember_settings_version(session, tenant_id, claimed[1])
    return int(claimed[0])


def _count_after_commit(
    session: AsyncSession, target: SampleStatus, source: SampleStatus | None, count: int = 1
) -> None:
    counts: dict[tuple[str | None, str], int] = session.info.setdefault(_PENDING_COUNTS, {})
    key = (source.value if source else None, target.value)
    counts[key] = counts.get(key, 0) + count

    async def publish() -> None:
        for (was, now), count in session.info.pop(_PENDING_COUNTS, {}).items():
            if was is None:
                metrics.SAMPLES_CREATED.inc(count)
            else:
                metrics.SAMPLE_TRANSITIONS.labels(source=was, target=now).inc(count)

    after_commit(session, "samples.metrics", publish)


def snapshot(sample: Sample) -> dict[str, Any]:
    return {name: to_json(getattr(sample, name)) for name in SNAPSHOT_FIELDS}


def _search_text(sample: Sample) -> str:
    return rules.search_text(sample.human_id, sample.barcode, sample.name, sample.submitter_name, sample.organism)


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
            if field == "assigned_to" and not _may_do_the_work(membership.role):
                errors.append({"field": field, "message": f"a {membership.role} cannot be assigned the work"})
    due = values.get("due_date")
    if due is not None and due < utcnow().date():
        errors.append({"field": "due_date", "message": f"{due.isoformat()} is in the past"})
    if errors:
        raise InvalidSampleField(
            "Not accepted: " + "; ".join(f"{error['field']} ({error['message']})" for error in errors) + ".",
            errors=errors,
        )


def _may_do_the_work(role: str) -> bool:
    # Assignments are bench work: staff who may change samples, never the people who sent them.
    return Permission.SAMPLES_WRITE in permissions_for(Role(role)) and role != Role.SUBMITTER


def _refuse_if_frozen(sample: Sample) -> None:
    if sample.status in FROZEN:
        raise SampleClosed(f"{sample.human_id} is {sample.status}; its record can no longer change.")


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"
