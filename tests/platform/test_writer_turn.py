"""A write request is authenticated before it queues for the SQLite writer turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from seqtrack.app import create_app
from seqtrack.platform.database import Database
from tests.fixtures.database import make_settings, sqlite_copy
from tests.fixtures.http import asgi_client

HELD_FOR_SECONDS = 10.0
# Far below the hold: a refusal that queued behind the writer cannot arrive in time.
ANSWER_WITHIN_SECONDS = 2.0


@pytest.fixture
async def sqlite_app(tmp_path: Path, sqlite_template: Path) -> FastAPI:
    return create_app(make_settings(tmp_path / "data", sqlite_copy(sqlite_template, tmp_path / "data")))


async def _hold_the_writer(database: Database, holding: asyncio.Event, release: asyncio.Event) -> None:
    async with database.write_session() as session:
        # BEGIN IMMEDIATE is sent with the first statement: now the file's write lock is ours too.
        await session.execute(text("SELECT 1"))
        holding.set()
        await asyncio.wait_for(release.wait(), HELD_FOR_SECONDS)


@pytest.fixture
async def held_writer(sqlite_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(sqlite_app) as client:
        holding, release = asyncio.Event(), asyncio.Event()
        holder = asyncio.create_task(_hold_the_writer(sqlite_app.state.database, holding, release))
        await holding.wait()
        try:
            yield client
        finally:
            release.set()
            await holder


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-token", "Bearer stk_000000000000_not-a-key", "Basic dXNlcjpwYXNz"],
    ids=["bad-access-token", "unknown-api-key", "wrong-scheme"],
)
async def test_a_write_with_bad_credentials_gets_its_401_while_another_request_holds_the_writer(
    held_writer: httpx.AsyncClient, authorization: str
) -> None:
    response = await asyncio.wait_for(
        held_writer.post("/api/v1/labs", json={"name": "Virology"}, headers={"Authorization": authorization}),
        ANSWER_WITHIN_SECONDS,
    )
    assert response.status_code == 401
