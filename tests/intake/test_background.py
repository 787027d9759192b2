"""Large files: read by a job with progress in the API and on the live feed, committed by a job (202)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from seqtrack.app import create_app
from seqtrack.events.models import EventRecord
from seqtrack.platform.database import Database
from tests.fixtures.actors import staff_actor
from tests.fixtures.database import make_settings
from tests.fixtures.http import asgi_client
from tests.fixtures.samples import act_as
from tests.intake.support import API, count_samples, upload
from tests.jobs.support import FAST, eventually

# Among the slowest tests of the suite: run first, so the suite does not end waiting on them.
pytestmark = pytest.mark.slow

ROWS = 6_000


def big_csv(rows: int) -> bytes:
    lines = ["Sample Name,Sample Type,Conc. (ng/µL),Volume (µL),Tube Barcode"]
    lines += [f"BG-{number:06d},HMW DNA,{50 + number % 100},20,TB-{number:06d}" for number in range(1, rows + 1)]
    return ("\r\n".join(lines) + "\r\n").encode()


async def test_a_large_file_is_read_and_committed_in_the_background_with_progress_shown(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    settings = make_settings(
        tmp_path / "big", database_url, intake_background_bytes=1024, intake_background_rows=1000, **FAST
    )
    app = create_app(settings)
    act_as(app, staff_actor())
    async with asgi_client(app) as client:
        accepted = await upload(client, big_csv(ROWS), "big.csv")
        assert accepted.status_code == 202, accepted.text
        submission = accepted.json()
        assert submission["progress"]["phase"] == "queued"

        async def read() -> dict[str, Any] | None:
            body: dict[str, Any] = (await client.get(f"{API}/{submission['id']}", params={"limit": 1})).json()
            return body if body["progress"]["phase"] == "done" else None

        done = await eventually(read, within=120, every=0.5)
        assert done["row_count"] == ROWS
        assert done["progress"] == {"phase": "done", "rows_parsed": ROWS, "rows_validated": ROWS, "rows_total": ROWS}
        assert done["state"] == "validated"

        started = await client.post(f"{API}/{submission['id']}/commit")
        assert started.status_code == 202

        async def committed() -> dict[str, Any] | None:
            body: dict[str, Any] = (await client.get(f"{API}/{submission['id']}", params={"limit": 1})).json()
            return body if body["state"] == "committed" else None

        finished = await eventually(committed, within=180, every=0.5)
        assert finished["samples_created"] == ROWS
    assert await count_samples(database) == ROWS
    async with database.read_session() as session:
        types = list(
            (
                await session.scalars(
                    select(EventRecord.type)
                    .where(EventRecord.aggregate_type == "submission")
                    .order_by(EventRecord.position)
                )
            ).all()
        )
    # The feed carries the progress the API shows, then the decision.
    assert "submission.progress" in types
    assert types[-2:] == ["submission.commit_started", "submission.committed"]
