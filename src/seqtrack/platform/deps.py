"""Request-scoped dependencies: the unit of work and read sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.platform.database import Database

CallerHook = Callable[[Request], Awaitable[None]]
_CALLER_HOOK = "resolve_caller_before_writing"


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def _database(request: Request) -> Database:
    # Async on purpose: FastAPI runs a plain function dependency in a worker thread.
    return get_database(request)


def install_caller_hook(app: FastAPI, hook: CallerHook) -> None:
    """Have every unit of work resolve the caller first (the app wiring names how).

    A request with bad credentials is refused before it queues for a writer turn,
    whatever order its route declares its dependencies in.
    """
    setattr(app.state, _CALLER_HOOK, hook)


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per write request, committed before the response is sent."""
    resolve_caller: CallerHook | None = getattr(request.app.state, _CALLER_HOOK, None)
    if resolve_caller is not None:
        await resolve_caller(request)
    async with get_database(request).write_session() as session:
        yield session


async def read_only(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_database(request).read_session() as session:
        yield session


# scope="function" closes the dependency (and so commits) before FastAPI sends
# the response: a failed commit becomes an error, never a 2xx that lied.
WriteSession = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(read_only, scope="function")]
DatabaseDep = Annotated[Database, Depends(_database)]
IfMatch = Annotated[str | None, Header(description="The ETag you read; required on PATCH.")]
