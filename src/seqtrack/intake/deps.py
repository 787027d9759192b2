"""Permission dependencies of the intake routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission
from seqtrack.intake import service
from seqtrack.platform.deps import get_database

# Submitters (for their own labs) and staff send files and orders and follow them.
CanSubmit = Annotated[Actor, Depends(require(Permission.INTAKE_SUBMIT))]
# Staff review, correct, commit and reject.
CanCommit = Annotated[Actor, Depends(require(Permission.INTAKE_COMMIT))]
CanConfigure = Annotated[Actor, Depends(require(Permission.SAMPLES_CONFIGURE))]


async def _visible(request: Request, submission_id: uuid.UUID, actor: Actor) -> uuid.UUID:
    # Resolved after the permission check and before the body is validated: a submission
    # of another facility (or another lab, for a submitter) answers 404 whatever was sent.
    async with get_database(request).read_session() as session:
        await service.get_submission(session, actor, submission_id)
    return submission_id


async def _submission_to_review(request: Request, submission_id: uuid.UUID, actor: CanSubmit) -> uuid.UUID:
    return await _visible(request, submission_id, actor)


async def _submission_to_decide(request: Request, submission_id: uuid.UUID, actor: CanCommit) -> uuid.UUID:
    return await _visible(request, submission_id, actor)


SubmissionToReview = Annotated[uuid.UUID, Depends(_submission_to_review)]
SubmissionToDecide = Annotated[uuid.UUID, Depends(_submission_to_decide)]
