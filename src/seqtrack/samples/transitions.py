"""Moving samples through the lifecycle, one or many at once, with the processing steps each move starts and ends."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.platform.actor import Actor
from seqtrack.platform.etag import check_if_match
from seqtrack.platform.models import utcnow
from seqtrack.samples import lifecycle, repository, workflow
from seqtrack.samples.configuration import remember_settings_version, settings_for_write
from seqtrack.samples.errors import (
    BulkTransitionRefused,
    IllegalTransition,
    InvalidSampleField,
    SignatureRejected,
    TransitionGuardFailed,
)
from seqtrack.samples.events import SampleEvent
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.models import ProcessingStep, Sample, SampleSettings
from seqtrack.samples.reading import get_sample
from seqtrack.samples.schemas import (
    Judgement,
    StepStatus,
)
from seqtrack.samples.signatures import PresentedSignature, signatures_for
from seqtrack.samples.writing import Change, count_after_commit, describe_change, write_changes


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
    signed = signatures_for(actor, settings, [sample], target, signature)
    steps = await _steps_following(session, settings, [sample], target)
    await write_changes(
        session, actor, [_move(session, sample, target, reason, signed.get(sample.id), steps[sample.id])]
    )
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
        remember_settings_version(session, actor.tenant_id, version)
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
    signed = signatures_for(actor, settings, samples, target, signature)
    steps = await _steps_following(session, settings, samples, target)
    await write_changes(
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
    await write_changes(session, actor, [_move(session, sample, target, reason, None, steps[sample.id])])
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
) -> Change:
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
    count_after_commit(session, target, source)
    return describe_change(
        sample,
        SampleEvent.STATUS_CHANGED,
        changes={**changes, **step_changes},
        reason=reason,
        signature=signature,
        data={"from": source.value, "to": target.value},
    )
