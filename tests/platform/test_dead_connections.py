"""Pooled connections are not pinged before each use; a read that meets a dead one runs again."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from seqtrack.platform.database import Database
from tests.fixtures.actors import staff_actor
from tests.fixtures.samples import act_as, sample_body

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend() -> str:
    return "postgres"


async def _end_every_connection_of(url: str) -> int:
    """What a PostgreSQL restart or a failover does to the application's pool."""
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        ended = await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(ended)
    finally:
        await connection.close()


async def test_a_list_after_the_database_dropped_every_pooled_connection_still_answers(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    act_as(app, staff_actor())
    assert (await client.post("/api/v1/samples", json=sample_body())).status_code == 201
    assert (await client.get("/api/v1/samples")).status_code == 200
    pooled: Database = app.state.database
    assert pooled.write_engine.pool.checkedin() >= 1  # type: ignore[attr-defined]

    assert await _end_every_connection_of(database_url) >= 1

    again = await client.get("/api/v1/samples")
    assert again.status_code == 200, again.text
    assert len(again.json()["items"]) == 1
