"""The seam between the audit trail and the event store it vouches for.

The audit domain verifies that every event its entries point to still holds
what was recorded; reading the event store is the events domain's business,
and the events domain already depends on audit. So events provides the
function here (on import of its recorder) and audit asks for it here.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

# The digest of each of these events as the event store holds it now (missing: no longer there).
EventDigests = Callable[[AsyncSession, Sequence[uuid.UUID]], Awaitable[dict[uuid.UUID, str]]]

_event_digests: EventDigests | None = None


def provide_event_digests(source: EventDigests) -> None:
    global _event_digests
    _event_digests = source


def event_digests() -> EventDigests:
    if _event_digests is None:
        # Fail closed: a verification that silently skipped the events would vouch for edited ones.
        raise RuntimeError("the event store is not loaded; import seqtrack.events.recorder before verifying")
    return _event_digests
