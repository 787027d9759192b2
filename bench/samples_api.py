"""Latency of the samples list, search, export and bulk transition as the table grows.

Seeds N samples straight into the table (a data generator, not the write path:
the list reads rows, not events), then times requests through the ASGI app in
process: the first page, a page deep into the keyset walk, a filtered page, a
text search, the CSV export, and one bulk transition of 1,000 samples. Each is
reported next to a constant endpoint (/health) timed in the same run, because
absolute numbers on a shared machine are noise. Appends to docs/benchmarks.md.

    .venv/bin/python -m bench.samples_api [--samples 20000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from seqtrack.app import create_app
from seqtrack.identity.actor import Actor
from seqtrack.identity.deps import current_actor
from seqtrack.identity.permissions import Role, permissions_for
from seqtrack.platform import migrations
from seqtrack.platform.database import Database
from seqtrack.platform.models import new_id
from seqtrack.samples.models import Sample
from seqtrack.samples.rules import search_text
from seqtrack.settings import Settings

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
STATES = ["submitted", "received", "qc", "library_prep", "sequencing", "analysis", "delivered", "archived"]
ORGANISMS = ["Escherichia coli", "Homo sapiens", "Arabidopsis thaliana", "Zea mays", "SARS-CoV-2"]


def _settings(data_dir: Path, url: str | None) -> Settings:
    return Settings(data_dir=data_dir, database_url=url, secret_key=secrets.token_urlsafe(48))  # type: ignore[arg-type]  # str coerces to SecretStr


def _rows(tenant: uuid.UUID, count: int, first: int) -> list[dict[str, Any]]:
    chance = random.Random(first)
    now = datetime.now(UTC)
    rows = []
    for number in range(first, first + count):
        created = now - timedelta(minutes=count - number)
        human = f"SEQ-{number:06d}"
        organism = chance.choice(ORGANISMS)
        barcode = f"TUBE{number:08d}"
        rows.append(
            {
                "id": new_id(),
                "tenant_id": tenant,
                "number": number,
                "human_id": human,
                "barcode": barcode,
                "name": f"Isolate {number}",
                "sample_type": "hmw_dna",
                "organism": organism,
                "priority": "normal",
                "priority_rank": 1,
                "due_at": created + timedelta(days=14),
                "status": chance.choice(STATES),
                "status_changed_at": created,
                "search_text": search_text(human, barcode, f"Isolate {number}", "Dr. Okafor", organism),
                "version": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
    return rows


async def _seed(database: Database, tenant: uuid.UUID, count: int) -> None:
    for first in range(1, count + 1, 5000):
        async with database.write_session() as session:
            await session.execute(insert(Sample), _rows(tenant, min(5000, count - first + 1), first))


async def _time(call: Callable[[], Awaitable[httpx.Response]], repeat: int) -> float:
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = await call()
        durations.append(time.perf_counter() - started)
        assert response.status_code < 400, response.text[:300]
    return statistics.median(durations) * 1000


async def _run(label: str, settings: Settings, count: int) -> list[tuple[str, str, float, float]]:
    # Alembic runs its own event loop.
    await asyncio.to_thread(migrations.upgrade, settings)
    tenant = uuid.uuid4()
    database = Database(settings)
    try:
        await _seed(database, tenant, count)
    finally:
        await database.dispose()
    actor = Actor(
        tenant_id=tenant,
        kind="system",
        principal_id=None,
        display="bench",
        permissions=permissions_for(Role.ADMIN),
        role=Role.ADMIN,
    )
    app = create_app(settings)
    app.dependency_overrides[current_actor] = lambda: actor
    results = []
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            health = await _time(lambda: client.get("/health"), 50)
            deep = (await client.get("/api/v1/samples", params={"limit": 500})).json()["next_cursor"]
            for _ in range(count // 1000):
                page = (await client.get("/api/v1/samples", params={"limit": 500, "cursor": deep})).json()
                deep = page["next_cursor"] or deep
            scenarios: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
                "list, first page of 50": lambda: client.get("/api/v1/samples"),
                "list, 50 after a deep cursor": lambda: client.get("/api/v1/samples", params={"cursor": deep}),
                "list, status=qc": lambda: client.get("/api/v1/samples", params={"status": "qc"}),
                "search q=tube0001234": lambda: client.get("/api/v1/samples", params={"q": "tube0001234"}),
                "search q=sapiens": lambda: client.get("/api/v1/samples", params={"q": "sapiens"}),
            }
            for name, call in scenarios.items():
                ms = await _time(call, 30)
                results.append((label, name, ms, ms / health))
            started = time.perf_counter()
            export = await client.get("/api/v1/samples/export.csv")
            ms = (time.perf_counter() - started) * 1000
            results.append((label, f"export.csv, all {export.text.count(chr(10)) - 1} rows", ms, ms / health))
            submitted = (await client.get("/api/v1/samples", params={"status": "submitted", "limit": 500})).json()
            more = await client.get(
                "/api/v1/samples", params={"status": "submitted", "limit": 500, "cursor": submitted["next_cursor"]}
            )
            ids = [item["id"] for item in submitted["items"] + more.json()["items"]][:1000]
            started = time.perf_counter()
            bulk = await client.post("/api/v1/samples/transitions", json={"sample_ids": ids, "to": "received"})
            assert bulk.status_code == 200, bulk.text[:300]
            ms = (time.perf_counter() - started) * 1000
            results.append((label, f"bulk transition of {len(ids)}", ms, ms / health))
    return results


async def _postgres_database(url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    name = f"seqtrack_bench_{secrets.token_hex(4)}"
    admin = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()

    async def drop() -> None:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    return make_url(url).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results += asyncio.run(_run("SQLite", _settings(Path(tmp), None), args.samples))
    url, drop = asyncio.run(_postgres_database(args.postgres))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results += asyncio.run(_run("PostgreSQL", _settings(Path(tmp), url), args.samples))
    finally:
        asyncio.run(drop())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n### Samples API — {stamp}\n",
        f"{args.samples} samples in one tenant, requests through the ASGI app in process (no network);",
        f"median of 30 requests (export and bulk: one run); Python {platform.python_version()}.",
        "`× /health` is the ratio to a constant endpoint timed in the same run.\n",
        "| database | request | ms | × /health |",
        "|---|---|---:|---:|",
        *(f"| {db} | {name} | {ms:.1f} | {ratio:.0f} |" for db, name, ms, ratio in results),
    ]
    with RESULTS.open("a") as out:
        out.write("\n".join(lines) + "\n")
    print("\n".join(lines))  # noqa: T201


if __name__ == "__main__":
    main()
