"""Electronic signatures (21 CFR Part 11 style) on the moves a facility marks as signed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from seqtrack.identity import service as identity_service
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.samples import lifecycle
from seqtrack.samples.errors import (
    SignatureRejected,
    SignatureRequired,
)
from seqtrack.samples.lifecycle import SampleStatus
from seqtrack.samples.models import Sample, SampleSettings
from seqtrack.samples.schemas import (
    SignatureIn,
    SignatureMeaning,
)


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


def signatures_for(
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
