"""Permission dependencies of the intake routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission

# Submitters (for their own labs) and staff send files and orders and follow them.
CanSubmit = Annotated[Actor, Depends(require(Permission.INTAKE_SUBMIT))]
# Staff review, correct, commit and reject.
CanCommit = Annotated[Actor, Depends(require(Permission.INTAKE_COMMIT))]
CanConfigure = Annotated[Actor, Depends(require(Permission.SAMPLES_CONFIGURE))]
