"""``seqtrack jobs dead|retry``: the operator's view of dead letters, across tenants."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqtrack.cli import app
from seqtrack.jobs.models import Job, JobState
from seqtrack.platform.database import Database
from seqtrack.platform.models import new_id, utcnow
from seqtrack.settings import Settings, get_settings
from tests.fixtures.database import off_loop


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = {
        "SEQTRACK_DATA_DIR": str(settings.data_dir),
        "SEQTRACK_DATABASE_URL": settings.database_dsn,
        "SEQTRACK_SECRET_KEY": settings.signing_key(),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


async def test_the_cli_lists_dead_jobs_and_puts_one_back_on_the_queue(
    database: Database, cli_env: dict[str, str], tmp_path: Path
) -> None:
    dead = Job(
        id=new_id(),
        tenant_id=uuid.uuid4(),
        task="webhooks.deliver",
        args={"delivery_id": "d-1"},
        state=JobState.DEAD,
        attempts=8,
        max_attempts=8,
        timeout_seconds=60,
        last_error="receiver answered 500",
        traceback="Traceback …",
        finished_at=utcnow(),
    )
    async with database.write_session() as session:
        session.add(dead)

    runner = CliRunner()
    listed = off_loop(runner.invoke, app, ["jobs", "dead"])
    assert listed.exit_code == 0, listed.output
    [line] = [json.loads(text) for text in listed.output.splitlines() if text.startswith("{")]
    assert line["id"] == str(dead.id)
    assert line["last_error"] == "receiver answered 500"
    assert line["traceback"] == "Traceback …"

    retried = off_loop(runner.invoke, app, ["jobs", "retry", str(dead.id)])
    assert retried.exit_code == 0, retried.output
    async with database.read_session() as session:
        row = await session.get(Job, dead.id)
    assert row is not None
    assert row.state == JobState.QUEUED
    assert row.attempts == 0

    again = off_loop(runner.invoke, app, ["jobs", "retry", str(dead.id)])
    assert again.exit_code == 1
    assert "only dead jobs" in again.output
