"""Throughput of the one write path (event + chained audit entry + outbox row per commit).

The per-tenant audit chain head is a serialisation point: every write of a
tenant waits for it. This measures commits per second with many concurrent
writers, for one tenant (worst case) and spread over several tenants, on
SQLite and on PostgreSQL, and appends the figures to docs/benchmarks.md.

    .venv/bin/python -m bench.write_path [--writers 50] [--writes 2000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import secrets
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from seqtrack.audit import service as audit_service
from seqtrack.events.recorder import DomainEvent, record
from seqtrack.identity.actor import Actor
from seqtrack.identity.permissions import Permission
from seqtrack.platform import migrations
from seqtrack.platform.database import Database
from seqtrack.settings import Settings

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def _settings(data_dir: Path, url: str | None) -> Settings:
    return Settings(data_dir=data_dir, database_url=url, secret_key=secrets.token_urlsafe(48))  # type: ignore[arg-type]  # str coerces to SecretStr


def _actor(tenant: uuid.UUID) -> Actor:
    return Actor(
        tenant_id=tenant, kind="user", principal_id=uuid.uuid4(), display="bench", permissions=frozenset(Permission)
    )


async def _run(database: Database, tenants: list[uuid.UUID], writers: int, writes: int) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(writes):
        queue.put_nowait(number)

    async def writer() -> None:
        while True:
            try:
                number = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            tenant = tenants[number % len(tenants)]
            async with database.write_session() as session:
                await record(
                    session,
                    DomainEvent(
                        type="sample.updated",
                        aggregate_type="sample",
                        aggregate_id=uuid.uuid4(),
                        changes={"volume_ul": (10.0, 9.5)},
                    ),
                    _actor(tenant),
                )

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.perf_counter() - started
    async with database.read_session() as session:
        verification = await audit_service.verify(session)
    assert verification.ok, verification.broken
    return writes / elapsed


async def _postgres_database(base_url: str) -> tuple[str, str]:
    name = f"seqtrack_bench_{secrets.token_hex(4)}"
    admin = make_url(base_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False), name


async def _drop(base_url: str, name: str) -> None:
    admin = make_url(base_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin)
    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await connection.close()


def measure(label: str, url: str | None, writers: int, writes: int) -> list[tuple[str, str, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for tenant_count in (1, 10):
            data_dir = Path(scratch) / f"t{tenant_count}"
            db_url, pg_name = url, None
            if url is not None:
                db_url, pg_name = asyncio.run(_postgres_database(url))
            settings = _settings(data_dir, db_url)
            migrations.upgrade(settings)

            async def go(settings: Settings = settings, tenant_count: int = tenant_count) -> float:
                database = Database(settings)
                try:
                    tenants = [uuid.uuid4() for _ in range(tenant_count)]
                    return await _run(database, tenants, writers, writes)
                finally:
                    await database.dispose()

            rate = asyncio.run(go())
            if pg_name is not None and url is not None:
                asyncio.run(_drop(url, pg_name))
            rows.append((label, f"{tenant_count} tenant{'s' if tenant_count > 1 else ''}", rate))
            print(f"{label:10} {tenant_count:>2} tenant(s): {rate:8.0f} commits/s")  # noqa: T201
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    rows = measure("SQLite", None, args.writers, args.writes)
    if not args.no_postgres:
        rows += measure("PostgreSQL", args.postgres, args.writers, args.writes)

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n### Write path — {stamp}\n",
        f"{args.writes} commits, each one event + one chained audit entry + one outbox row, from",
        f"{args.writers} concurrent writers in one process; Python {platform.python_version()},",
        "2 cores. The whole chain is verified after each run.\n",
        "| database | writes spread over | commits/s |",
        "|---|---|---:|",
        *(f"| {label} | {spread} | {rate:,.0f} |" for label, spread, rate in rows),
        "",
    ]
    with RESULTS.open("a") as results:
        results.write("\n".join(lines))


if __name__ == "__main__":
    main()
