"""The intake scenario: a generated CSV of 100 k and 1 M rows read, validated and committed.

Each size runs in a fresh process on a fresh database (SQLite in a scratch
directory, PostgreSQL in a database of its own), through the intake service
exactly as the API and the background job call it: the file streamed into the
content-addressed store, every row validated and kept, duplicates looked for,
then the commit saga creating every sample (row, steps, event, audit entry,
outbox row) in one transaction. Peak memory is the process's own high-water mark.

    .venv/bin/python -m bench.intake --rows 100000 --database sqlite
    .venv/bin/python -m bench.intake --all   # both databases, 100 k and 1 M; rewrites its section of docs/benchmarks.md

`make bench` runs the same sizes after the request scenarios. On a shared machine
wall time includes waiting for a core, so each phase also reports the process's
own CPU seconds, and on a local PostgreSQL the server backends' CPU seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START = "<!-- intake:start (written by `python -m bench.intake --all` and `make bench`) -->"
END = "<!-- intake:end -->"
SIZES = (100_000, 1_000_000)
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
        load_before = os.getloadavg()[0]
        cpu_started, started = _cpu_seconds(), time.perf_counter()
        submission = await service.receive_file(
            database, settings, actor, _chunks(source), file_name=source.name, lab_id=lab.id, project="bench"
        )
        validated = time.perf_counter() - started
        validate_cpu = _cpu_seconds() - cpu_started
        if submission.row_count != rows or submission.error_count:
            raise RuntimeError(f"read {submission.row_count} rows with {submission.error_count} errors")
        server_cpu_validated = await _server_cpu_seconds(database)
        cpu_started, started = _cpu_seconds(), time.perf_counter()
        committed, done = await commit.start_commit(database, settings, actor, submission.id, None)
        committed_seconds = time.perf_counter() - started
        commit_cpu = _cpu_seconds() - cpu_started
        if not done or committed.samples_created != rows:
            raise RuntimeError(f"committed {committed.samples_created} of {rows} samples")
        server_cpu = await _server_cpu_seconds(database)
    finally:
        await database.dispose()
    figures: dict[str, Any] = {
        "rows": rows,
        "file_mb": round(source.stat().st_size / 1024**2, 1),
        "validate_s": round(validated, 1),
        "commit_s": round(committed_seconds, 1),
        "total_s": round(validated + committed_seconds, 1),
        # On a shared machine wall time includes waiting for a core; CPU time is what the work cost.
        "validate_cpu_s": round(validate_cpu, 1),
        "commit_cpu_s": round(commit_cpu, 1),
        "cpu_s": round(_cpu_seconds(), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
        "load": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }
    if server_cpu is not None and server_cpu_validated is not None:
        figures["server_validate_cpu_s"] = round(server_cpu_validated, 1)
        figures["server_commit_cpu_s"] = round(server_cpu - server_cpu_validated, 1)
    return figures


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _server_cpu_seconds(database: Any) -> float | None:
    """CPU seconds the PostgreSQL backends serving this (fresh, bench-only) database have used, if local."""
    if database.is_sqlite:
        return None
    from sqlalchemy import text

    async with database.read_session() as session:
        pids = list(
            (await session.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))).all()
        )
    return _cpu_of(pids)


def _cpu_of(pids: list[int]) -> float | None:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            # utime and stime: fields 14 and 15 of /proc/<pid>/stat, counted after the command's ")".
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None  # the server is not on this machine
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


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


NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


def render(results: list[dict[str, Any]], commit: str) -> str:
    """The intake section's table: one line per database and size."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"### Intake run: {stamp}, commit {commit} (`python -m bench.intake --all`)",
        "",
        "| database | rows | file | read + validate (wall) | commit (wall) | total (wall) "
        "| process CPU: read / commit | PostgreSQL CPU: read / commit | peak RSS | load average |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in results:
        server = (
            f"{row['server_validate_cpu_s']:,.1f} s / {row['server_commit_cpu_s']:,.1f} s"
            if "server_commit_cpu_s" in row
            else "-"
        )
        lines.append(
            f"| {NAMES[row['database']]} | {row['rows']:,} | {row['file_mb']:.1f} MB | {row['validate_s']:,.1f} s "
            f"| {row['commit_s']:,.1f} s | {row['total_s']:,.1f} s "
            f"| {row['validate_cpu_s']:,.1f} s / {row['commit_cpu_s']:,.1f} s | {server} "
            f"| {row['peak_rss_mb']:.0f} MB | {row['load'][0]} → {row['load'][1]} |"
        )
    return "\n".join(lines) + "\n"


def write_section(path: Path, results: list[dict[str, Any]]) -> None:
    """Replace the generated intake table in ``path``, leaving the words around it alone."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    section = f"{START}\n\n{render(results, commit)}\n{END}"
    from bench.report import MARKER

    existing = path.read_text()
    if START in existing and END in existing:
        before, rest = existing.split(START, 1)
        path.write_text(before + section + rest.split(END, 1)[1])
    elif MARKER in existing:
        # Above the part `make bench` rewrites whole, or its next run would drop these figures.
        before, after = existing.split(MARKER, 1)
        path.write_text(f"{before.rstrip()}\n\n{section}\n\n{MARKER}{after}")
    else:
        path.write_text(existing.rstrip() + "\n\n" + section + "\n")


def run_all(sizes: list[int], databases: list[str], postgres: str, output: Path | None) -> list[dict[str, Any]]:
    results = []
    for database in databases:
        for rows in sizes:
            figures = run_one(rows, database, postgres)
            print(json.dumps(figures), flush=True)  # noqa: T201
            results.append(figures)
    if output is not None:
        write_section(output, results)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--sizes", default=",".join(str(size) for size in SIZES), help="With --all: the row counts.")
    parser.add_argument("--all", action="store_true", help="Both databases, every size, one process each.")
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--database-url")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.json:
        figures = asyncio.run(measure(args.rows, args.database_url, args.data_dir))
        print(json.dumps(figures))  # noqa: T201
        return
    if args.all:
        run_all([int(size) for size in args.sizes.split(",")], ["postgresql", "sqlite"], args.postgres, args.output)
        return
    print(json.dumps(run_one(args.rows, args.database, args.postgres)), flush=True)  # noqa: T201


if __name__ == "__main__":
    main()
