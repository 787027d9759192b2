"""What identity does when the API starts."""

from __future__ import annotations

import asyncio

import structlog
import typer
from fastapi import FastAPI

from seqtrack.identity import callers, passwords
from seqtrack.identity import repository as repo
from seqtrack.identity.ratelimit import LoginLimiter, RequestLimiter
from seqtrack.platform.database import Database
from seqtrack.settings import Settings

log = structlog.get_logger("seqtrack.identity")

NO_ADMIN_HINT = "No administrator yet. Create one with: seqtrack admin create --email you@example.org --tenant <slug>"


async def on_startup(app: FastAPI, settings: Settings, database: Database) -> None:
    app.state.login_limiter = LoginLimiter(settings)
    app.state.request_limiter = RequestLimiter(settings)
    cache = callers.CallerCache(settings)
    app.state.callers = cache
    callers.register(settings, cache)
    if settings.redis_url is not None:
        listener = callers.ChangeListener(settings, cache)
        app.state.caller_change_listener = listener
        await listener.start()
    # The timing-equaliser hash is made now, not during someone's first failed log-in.
    await asyncio.to_thread(passwords.dummy_hash, passwords.HashCost.of(settings))
    try:
        async with database.read_session() as session:
            users = await repo.count_users(session)
    except Exception as exc:
        # Not fatal: /ready reports an unreachable or unmigrated database with more detail.
        log.warning("cannot count users; is the database reachable and migrated?", error=str(exc))
        return
    if users == 0:
        log.warning(NO_ADMIN_HINT)
        # On stdout as well: `make run` users read the terminal, not the JSON log.
        typer.echo(NO_ADMIN_HINT)


async def on_shutdown(app: FastAPI, settings: Settings) -> None:
    listener: callers.ChangeListener | None = getattr(app.state, "caller_change_listener", None)
    if listener is not None:
        await listener.stop()
    cache: callers.CallerCache | None = getattr(app.state, "callers", None)
    if cache is not None:
        callers.unregister(settings, cache)
