"""The live feed of the caller's tenant's events.

Who may read it is decided by identity, which records its own changes through this
package; so the app wiring hands the router identity's checks (see ``api.py``)
instead of this package importing identity.

No ``from __future__ import annotations`` here: the endpoint's annotations name the
dependency it closes over, so they must be evaluated where it is defined.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from seqtrack.events import feed
from seqtrack.platform.actor import Actor

MAX_POSITION = 2**63 - 1  # event positions are BIGINT

# The caller of this request when allowed to read events (else the dependency refuses it).
ReaderDependency = Callable[..., Awaitable[Actor]]
# The caller again, from its credentials as they are now; None once they no longer allow reading.
Recheck = Callable[[Request], Awaitable[Actor | None]]
# While open: an event set whenever the caller's access changes (log-out, revocation, disabling), if any.
WatchAccess = Callable[[Request, Actor], AbstractContextManager[asyncio.Event | None]]


def build_router(can_read_events: ReaderDependency, recheck_reader: Recheck, watch_access: WatchAccess) -> APIRouter:
    router = APIRouter(prefix="/events", tags=["events"])
    endpoint = _stream_endpoint(can_read_events, recheck_reader, watch_access)
    router.add_api_route("/stream", endpoint, methods=["GET"], response_class=StreamingResponse)
    return router


def _stream_endpoint(
    can_read_events: ReaderDependency, recheck_reader: Recheck, watch_access: WatchAccess
) -> Callable[..., Awaitable[StreamingResponse]]:
    async def stream_events(
        request: Request,
        actor: Annotated[Actor, Depends(can_read_events)],
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
            return await recheck_reader(request)

        async def messages() -> AsyncIterator[str]:
            with watch_access(request, actor) as changed:
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

    return stream_events
