"""Request-scoped dependencies: the unit of work and read sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.platform.database import Database


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per write request, committed before the response is sent."""
    async with get_database(request).write_session() as session:
        yield session


async def read_only(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_database(request).read_session() as session:
        yield session


# scope="function" closes the dependency (and so commits) before FastAPI sends
# the response: a failed commit becomes an error, never a 2xx that lied.
WriteSession = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(read_only, scope="function")]
DatabaseDep = Annotated[Database, Depends(get_database)]
