"""The intake scenario: a generated CSV of 100 k and 1 M rows read, validated and committed.

Each size runs in a fresh process on a fresh database (SQLite in a scratch
directory, PostgreSQL in a database of its own), through the intake service
exactly as the API and the background job call it: the file streamed into the
content-addressed store, every row validated and kept, duplicates looked for,
then the commit saga creating every sample (row, steps, event, audit entry,
outbox row) in one transaction. Peak memory is the process's own high-water mark.

    .venv/bin/python -m bench.intake --rows 100000 --database sqlite
    .venv/bin/python -m bench.intake --all        # both databases, 100 k and 1 M; appends to docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "Sample Name,Sample Type,Organism,Conc. (ng/µL),Volume (µL),A260/280,Tube Barcode,Flow Cell,Library Kit,Priority"
)
TYPES = ("HMW DNA", "genomic DNA", "total RNA", "cDNA", "amplicon")


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\r\n")
        for number in range(1, rows + 1):
            out.write(
                f"B-{number:07d},{TYPES[number % 5]},Escherichia coli,{20 + number % 300}.5,{10 + number % 40},"
                f"1.{80 + number % 15},TB-{number:07d},FLO-MIN114,SQK-LSK114,normal\r\n"
            )


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            yield chunk


async def measure(rows: int, database_url: str | None, data_dir: Path) -> dict[str, Any]:
    from seqtrack.identity import service as identity_service
    from seqtrack.identity.actor import Actor
    from seqtrack.identity.permissions import Role, permissions_for
    from seqtrack.intake import commit, service
    from seqtrack.platform import migrations
    from seqtrack.platform.database import Database
    from seqtrack.settings import Settings

    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=database_url,
        secret_key=secrets.token_urlsafe(48),
        log_format="json",
        log_level="WARNING",
        intake_max_file_bytes=1024**3,
        intake_background_bytes=1024**3,
        intake_background_rows=10**9,
    )
    await asyncio.to_thread(migrations.upgrade, settings)
    source = data_dir / f"bench-{rows}.csv"
    write_csv(source, rows)
    database = Database(settings)
    try:
        async with database.write_session() as session:
            tenant = await identity_service.create_tenant(session, "bench", "Bench", Actor.system(uuid.UUID(int=0)))
            lab = await identity_service.create_lab(session, Actor.system(tenant.id), name="Bench lab")
        actor = Actor(
            tenant_id=tenant.id,
            kind="user",
            principal_id=None,
            display="bench@facility.example",
            role=Role.MANAGER,
            permissions=permissions_for(Role.MANAGER),
        )
        started = time.perf_counter()
        submission = await service.receive_file(
            database, settings, actor, _chunks(source), file_name=source.name, lab_id=lab.id, project="bench"
        )
        validated = time.perf_counter() - started
        if submission.row_count != rows or submission.error_count:
            raise RuntimeError(f"read {submission.row_count} rows with {submission.error_count} errors")
        started = time.perf_counter()
        committed, done = await commit.start_commit(database, settings, actor, submission.id, None)
        committed_seconds = time.perf_counter() - started
        if not done or committed.samples_created != rows:
            raise RuntimeError(f"committed {committed.samples_created} of {rows} samples")
    finally:
        await database.dispose()
    return {
        "rows": rows,
        "file_mb": round(source.stat().st_size / 1024**2, 1),
        "validate_s": round(validated, 1),
        "commit_s": round(committed_seconds, 1),
        "total_s": round(validated + committed_seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
        # On a shared machine wall time includes waiting for a core; CPU time is what the work cost.
        "cpu_s": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime, 1
        ),
    }


def _postgres_database(admin_url: str) -> tuple[str, str]:
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"seqtrack_bench_intake_{secrets.token_hex(4)}"

    async def create() -> None:
        connection = await asyncpg.connect(make_url(admin_url).set(drivername="postgresql").render_as_string(False))
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return name, make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop(admin_url: str, name: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    async def drop() -> None:
        connection = await asyncpg.connect(make_url(admin_url).set(drivername="postgresql").render_as_string(False))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


def run_one(rows: int, database: str, postgres: str) -> dict[str, Any]:
    """One size on one database in a process of its own, so its peak memory is its own."""
    with tempfile.TemporaryDirectory(prefix="seqtrack-bench-intake-") as scratch:
        name, url = (None, None)
        if database == "postgresql":
            name, url = _postgres_database(postgres)
        try:
            args = [sys.executable, "-m", "bench.intake", "--rows", str(rows), "--data-dir", scratch, "--json"]
            if url:
                args += ["--database-url", url]
            result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise RuntimeError(result.stderr[-3000:])
            figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
            figures["database"] = database
            return figures
        finally:
            if name:
                _drop(postgres, name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--sizes", default="100000,1000000", help="With --all: the row counts.")
    parser.add_argument("--all", action="store_true", help="Both databases, every size, one process each.")
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--database-url")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.json:
        figures = asyncio.run(measure(args.rows, args.database_url, args.data_dir))
        print(json.dumps(figures))  # noqa: T201
        return
    plan = (
        [(database, int(size)) for database in ("postgresql", "sqlite") for size in args.sizes.split(",")]
        if args.all
        else [(args.database, args.rows)]
    )
    for database, rows in plan:
        figures = run_one(rows, database, args.postgres)
        print(json.dumps(figures), flush=True)  # noqa: T201


if __name__ == "__main__":
    main()
