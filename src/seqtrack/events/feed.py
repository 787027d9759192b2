"""The live feed: a tenant's events as Server-Sent Events, gap-free and resumable.

The event store is the source; notifications only say "look again". Each
message's ``id:`` is the event's ``position``, so a client reconnecting with
``Last-Event-ID`` continues exactly where it stopped.

PostgreSQL hands out positions when a transaction inserts, not when it commits:
position 11 can be visible while 10 is still in flight and commits a moment
later. A feed that jumped to 11 would never show 10. So the feed only advances
through positions it has seen, in order (across all tenants, since positions
are global); at a hole it stops and waits. A hole is skipped only when the
event right after it is older than ``feed_gap_grace_seconds``: a transaction
that allocated the missing position before that event and is still not
committed after the grace has rolled back. The default grace (60 s) is twice
the request timeout, so a long bulk transition holding a position is waited
for rather than skipped. SQLite has a single writer, so it never shows such holes.

Submitters see only events that name one of their labs (``data.lab_id``);
events without a lab (webhook changes, jobs) are facility business.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from sqlalchemy import func, select

from seqtrack.events.bus import Notifier
from seqtrack.events.models import EventRecord
from seqtrack.events.recorder import envelope
from seqtrack.platform import shutdown
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.platform.models import utcnow
from seqtrack.settings import Settings

SCAN_LIMIT = 1000
# The last message of every open stream when the server stops; the browser reconnects elsewhere.
SHUTDOWN_MESSAGE = "event: server-stopping\ndata: {}\n\n"
# How often an open stream asks again who its caller is, when no announcement of a change
# reached this process (another process without Redis): log-out, revocation or disabling
# ends a stream within about this long plus the caller cache's one-second lifetime.
ACCESS_RECHECK_SECONDS = 0.5


async def latest_position(database: Database) -> int:
    async with database.read_session() as session:
        return int(await session.scalar(select(func.max(EventRecord.position))) or 0)


async def settled_frontier(database: Database, cursor: int, grace_seconds: float) -> int:
    """The highest position up to which every event is committed (or never will be)."""
    async with database.read_session() as session:
        rows = (
            await session.execute(
                select(EventRecord.position, EventRecord.occurred_at)
                .where(EventRecord.position > cursor)
                .order_by(EventRecord.position)
                .limit(SCAN_LIMIT)
            )
        ).all()
    settled = cursor
    too_old = utcnow() - timedelta(seconds=grace_seconds)
    for position, occurred_at in rows:
        if position != settled + 1 and occurred_at > too_old:
            break
        settled = position
    return settled


def visible_to(actor: Actor, record: EventRecord) -> bool:
    if record.tenant_id != actor.tenant_id:
        return False
    if actor.sees_only_own_labs:
        lab = record.data.get("lab_id") if isinstance(record.data, dict) else None
        return lab is not None and any(str(lab) == str(own) for own in actor.lab_ids)
    return True


async def events_between(database: Database, actor: Actor, after: int, upto: int) -> list[EventRecord]:
    async with database.read_session() as session:
        rows = await session.scalars(
            select(EventRecord)
            .where(
                EventRecord.tenant_id == actor.tenant_id,
                EventRecord.position > after,
                EventRecord.position <= upto,
            )
            .order_by(EventRecord.position)
        )
        return [row for row in rows.all() if visible_to(actor, row)]


def format_event(record: EventRecord) -> str:
    body = json.dumps(envelope(record), separators=(",", ":"))
    return f"id: {record.position}\nevent: {record.type}\ndata: {body}\n\n"


async def stream(
    database: Database,
    notifier: Notifier,
    settings: Settings,
    actor: Actor,
    after: int | None,
    *,
    follow: bool = True,
    recheck: Callable[[], Awaitable[Actor | None]] | None = None,
    access_changed: asyncio.Event | None = None,
) -> AsyncIterator[str]:
    """Yield SSE messages for ``actor``'s events after position ``after`` (None: from now on).

    ``follow=False`` ends the stream once it has caught up, for clients that poll.
    ``recheck`` is asked who the caller is now at once when ``access_changed`` is
    set (the account changed) and every ``ACCESS_RECHECK_SECONDS`` otherwise: a
    logged-out session, a revoked key, a disabled user or a submitter taken off
    a lab must not keep an open stream of the facility's events.
    """
    loop = asyncio.get_running_loop()
    async with notifier.subscribe() as woken:
        cursor = after if after is not None else await latest_position(database)
        # Tell the browser how soon to reconnect, and give proxies a first byte at once.
        yield f"retry: 2000\n: connected at position {cursor}\n\n"
        idle = 0.0
        checked_at = loop.time()
        while True:
            if shutdown.requested():
                yield SHUTDOWN_MESSAGE
                return
            woken.clear()
            frontier = await settled_frontier(database, cursor, settings.feed_gap_grace_seconds)
            if frontier > cursor:
                for record in await events_between(database, actor, cursor, frontier):
                    yield format_event(record)
                advanced, cursor = frontier - cursor, frontier
                idle = 0.0
                if advanced >= SCAN_LIMIT:
                    continue
            if not follow:
                return
            wait = min(settings.feed_poll_interval_seconds, ACCESS_RECHECK_SECONDS)
            started = loop.time()
            if await _first_of(woken, access_changed, within=wait) is not woken:
                idle += loop.time() - started
            # Asked even while events pour in: a busy feed must end as promptly as a quiet one.
            changed = access_changed is not None and access_changed.is_set()
            if recheck is not None and (changed or loop.time() - checked_at >= ACCESS_RECHECK_SECONDS):
                if access_changed is not None:
                    access_changed.clear()
                checked_at = loop.time()
                current = await recheck()
                if current is None:
                    yield "event: access-revoked\ndata: {}\n\n"
                    return
                actor = current
            if idle >= settings.feed_keepalive_seconds:
                idle = 0.0
                yield ": keep-alive\n\n"


async def _first_of(*events: asyncio.Event | None, within: float) -> asyncio.Event | None:
    """The first of ``events`` to be set within ``within`` seconds, or None."""
    waiting = {asyncio.ensure_future(event.wait()): event for event in events if event is not None}
    try:
        done, _ = await asyncio.wait(waiting, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waiting:
            task.cancel()
    for task, event in waiting.items():
        if task in done:
            return event
    return None
