"""The live feed of the caller's tenant's events."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from seqtrack.events import feed
from seqtrack.identity.actor import Actor
from seqtrack.identity.authenticate import authenticate
from seqtrack.identity.callers import CallerCache
from seqtrack.identity.deps import require
from seqtrack.identity.permissions import Permission
from seqtrack.platform.errors import DomainError

router = APIRouter(prefix="/events", tags=["events"])

MAX_POSITION = 2**63 - 1  # event positions are BIGINT
CanReadEvents = Annotated[Actor, Depends(require(Permission.EVENTS_READ))]


@router.get("/stream", response_class=StreamingResponse)
async def stream_events(
    request: Request,
    actor: CanReadEvents,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_POSITION)] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_POSITION, description="Start after this position (as Last-Event-ID).")
    ] = None,
    follow: Annotated[
        bool, Query(description="Keep the stream open for new events (false: catch up, then end).")
    ] = True,
) -> StreamingResponse:
    """Server-Sent Events of your tenant's events; `Last-Event-ID` resumes without gaps."""
    start = last_event_id if last_event_id is not None else after

    async def recheck() -> Actor | None:
        try:
            resolved = await authenticate(request, request.app.state.database)
        except DomainError:
            return None
        if resolved is None or not resolved.actor.can(Permission.EVENTS_READ):
            return None
        return resolved.actor

    async def messages() -> AsyncIterator[str]:
        callers: CallerCache = request.app.state.callers
        with contextlib.ExitStack() as watching:
            changed = watching.enter_context(callers.watch(actor.user_id)) if actor.user_id is not None else None
            async for message in feed.stream(
                request.app.state.database,
                request.app.state.events.notifier,
                request.app.state.settings,
                actor,
                start,
                follow=follow,
                recheck=recheck,
                access_changed=changed,
            ):
                yield message

    return StreamingResponse(
        messages(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
