"""Committing a submission: a saga that creates every sample or none, and resumes after a crash.

check → reserve storage positions for the incoming tubes → create the samples
through the samples write path in one transaction, mark the submission committed
and queue the submitter's e-mail, all in that same transaction. A failure undoes
the finished steps: the reservation is released and the submission goes back to
validated, with nothing created.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.identity.actor import Actor
from seqtrack.intake import repository, service, validation
from seqtrack.intake.errors import NotReadyToCommit
from seqtrack.intake.events import SubmissionEvent
from seqtrack.intake.models import Submission
from seqtrack.intake.schemas import SubmissionState
from seqtrack.jobs import sagas
from seqtrack.jobs.sagas import SagaRun
from seqtrack.jobs.states import SagaState
from seqtrack.platform.database import Database
from seqtrack.platform.errors import DomainError
from seqtrack.samples import service as samples_service
from seqtrack.samples.schemas import SampleCreate
from seqtrack.settings import Settings
from seqtrack.storage import service as storage_service
from seqtrack.storage.rules import Zone
from seqtrack.storage.schemas import ReservationIn

SAGA_NAME = "intake.commit"
COMMIT_TASK = "intake.commit"
CREATE_BATCH = 1000
# The most positions one reservation holds (the storage API's own limit).
MAX_RESERVED = 1000


async def _submission(session: AsyncSession, context: dict[str, Any]) -> Submission:
    submission = await session.get(
        Submission, uuid.UUID(context["submission_id"]), with_for_update=True, populate_existing=True
    )
    if submission is None:
        raise LookupError(f"submission {context['submission_id']} is gone")
    return submission


async def _check(session: AsyncSession, context: dict[str, Any]) -> None:
    submission = await _submission(session, context)
    if submission.state != SubmissionState.COMMITTING:
        service.check_ready(submission)
        await service._set_state(  # the saga is the service's own use case, split in steps
            session,
            service.actor_from(context["actor"]),
            submission,
            SubmissionState.COMMITTING,
            SubmissionEvent.COMMIT_STARTED,
            data={"saga_id": context.get("saga_id")},
        )


async def _undo_check(session: AsyncSession, context: dict[str, Any]) -> None:
    submission = await _submission(session, context)
    if submission.state == SubmissionState.COMMITTING:
        await service._set_state(
            session,
            service.actor_from(context["actor"]),
            submission,
            SubmissionState.VALIDATED,
            SubmissionEvent.COMMIT_FAILED,
            reason="the commit failed; nothing was created",
        )


async def _create_samples(session: AsyncSession, context: dict[str, Any]) -> None:
    """Every sample in this one transaction: all of them exist after it commits, none if it does not."""
    submission = await _submission(session, context)
    if submission.state == SubmissionState.COMMITTED:
        return
    actor = service.actor_from(context["actor"])
    created = 0
    async for batch in repository.row_batches(session, submission.id, CREATE_BATCH):
        bodies = [_sample_body(submission, values) for _number, values in batch]
        await samples_service.create_samples(session, actor, bodies, origin={"submission_id": submission.id})
        created += len(bodies)
    submission.samples_created = created
    submission.commit_key = context.get("commit_key")
    await service._set_state(
        session,
        actor,
        submission,
        SubmissionState.COMMITTED,
        SubmissionEvent.COMMITTED,
        data={"samples_created": created},
    )
    await service.notify(session, submission, accepted=True)
    context["samples_created"] = created


async def _reserve_positions(session: AsyncSession, context: dict[str, Any]) -> None:
    """Hold positions for the submission's tubes, in the −80 °C zone when it has room, else anywhere.

    A facility without (enough) free positions still takes the submission: the
    tubes are placed when they arrive, and the context says why none were held.
    """
    if context.get("reservation_id") or context.get("reservation_skipped"):
        return
    submission = await _submission(session, context)
    actor = service.actor_from(context["actor"])
    reference = f"submission {submission.id}"
    if submission.row_count > MAX_RESERVED:
        context["reservation_skipped"] = f"more than {MAX_RESERVED:,} tubes: they are placed as they arrive"
        return
    for zone in (Zone.ULTRA_LOW, None):
        try:
            # A savepoint: a refusal (no room) leaves the saga's transaction usable.
            async with session.begin_nested():
                held = await storage_service.reserve(
                    session, actor, ReservationIn(reference=reference, count=max(submission.row_count, 1), zone=zone)
                )
        except DomainError as refused:
            context["reservation_skipped"] = refused.detail
            continue
        context.pop("reservation_skipped", None)
        context["reservation_id"] = str(held["id"])
        return


async def _release_positions(session: AsyncSession, context: dict[str, Any]) -> None:
    if context.get("reservation_id"):
        await storage_service.release_reservation(
            session,
            service.actor_from(context["actor"]),
            uuid.UUID(context["reservation_id"]),
            "the submission's commit failed; nothing was created",
        )


def _sample_body(submission: Submission, values: dict[str, Any]) -> SampleCreate:
    body = validation.sample_fields(values)
    body["lab_id"] = submission.lab_id
    body["submitter_id"] = submission.submitter_id
    if submission.project and not body.get("project"):
        body["project"] = submission.project
    return SampleCreate.model_validate(body)


SAGA = sagas.Saga(
    SAGA_NAME,
    [
        sagas.Step("check", _check, _undo_check),
        sagas.Step("reserve_positions", _reserve_positions, _release_positions),
        sagas.Step("create_samples", _create_samples),
    ],
)


def saga_context(submission: Submission, actor: Actor, commit_key: str | None) -> dict[str, Any]:
    return {"submission_id": str(submission.id), "actor": service.actor_context(actor), "commit_key": commit_key}


async def start_commit(
    database: Database, settings: Settings, actor: Actor, submission_id: uuid.UUID, commit_key: str | None
) -> tuple[Submission, bool]:
    """Commit the submission: here for a small one, in a job for a large one. Answers (submission, finished).

    Asking again with the Idempotency-Key of the accepted commit answers as the
    first time; without it, a committed submission is refused (409) and nothing
    more is created.
    """
    async with database.write_session() as session:
        submission = await service.get_submission(session, actor, submission_id)
        if submission.state == SubmissionState.COMMITTED and commit_key and submission.commit_key == commit_key:
            return submission, True
        if submission.state == SubmissionState.COMMITTING or (
            submission.saga_id is not None
            and submission.state == SubmissionState.VALIDATED
            and await _running(session, submission.saga_id)
        ):
            return submission, False
        service.check_ready(submission)
        if submission.row_count > settings.intake_background_rows:
            from seqtrack.jobs import service as jobs_service

            run = SAGA.plan(session, saga_context(submission, actor, commit_key), tenant_id=submission.tenant_id)
            await session.flush()
            job = await jobs_service.enqueue(
                session, COMMIT_TASK, {"saga_id": str(run.id)}, tenant_id=submission.tenant_id, settings=settings
            )
            submission.saga_id = run.id
            submission.job_id = job.id
            await session.flush()
            return submission, False
    run = await SAGA.start(
        database, settings, saga_context(submission, actor, commit_key), tenant_id=submission.tenant_id
    )
    async with database.write_session() as session:
        submission = await service.get_submission(session, actor, submission_id)
        submission.saga_id = run.id
        await session.flush()
    if run.state == SagaState.COMPENSATED:
        raise NotReadyToCommit(f"Nothing was created: {failure_reason(run)}", saga_id=str(run.id))
    return submission, run.state == SagaState.COMPLETED


async def _running(session: AsyncSession, saga_id: uuid.UUID) -> bool:
    run = await sagas.find_run(session, saga_id)
    return run is not None and not finished(run)


def failure_reason(run: SagaRun) -> str:
    first = (run.last_error or "").splitlines()[0] if run.last_error else "the commit failed"
    return first[:500]


def finished(run: SagaRun) -> bool:
    return run.state in (SagaState.COMPLETED, SagaState.COMPENSATED, SagaState.FAILED)
