"""Fill a facility with N realistic samples, fast, straight into the samples table.

A data generator for the benchmark, not the write path: it writes sample rows
only (no events, audit entries or processing steps), the way a migration from
an older LIMS would, so that a million rows take a minute instead of hours.
The facility (and its labs) must exist: `seqtrack admin create` and the labs API
make them. The database is the one `seqtrack` itself uses (SEQTRACK_DATABASE_URL
or the SQLite file under SEQTRACK_DATA_DIR).

PostgreSQL: asyncpg COPY, with the table's secondary indexes dropped during the
load and rebuilt after it (one sort per index beats a million index inserts).
SQLite: multi-row INSERTs, 20,000 rows per transaction.

    .venv/bin/python -m bench.seed --tenant bench --samples 100000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import make_url

# The search box matches substrings of this text; it must be built the way the service builds it.
from seqtrack.samples.rules import DEFAULT_ID_PREFIX, search_text
from seqtrack.settings import Settings

CHUNK = 20_000
# Weights, not percentages; a facility's backlog is mostly finished work, but the benchmark
# moves submitted and received samples, so those two are kept plentiful.
STATES = {
    "submitted": 18,
    "received": 24,
    "qc": 6,
    "library_prep": 4,
    "sequencing": 4,
    "analysis": 3,
    "delivered": 12,
    "archived": 24,
    "on_hold": 2,
    "failed": 1,
    "cancelled": 1,
    "disposed": 1,
}
ACTIVE = ["submitted", "received", "qc", "library_prep", "sequencing", "analysis"]
PRIORITIES = {"low": (10, 0, 28), "normal": (68, 1, 14), "high": (15, 2, 7), "urgent": (7, 3, 2)}
SAMPLE_TYPES = {
    "genomic_dna": 30,
    "hmw_dna": 20,
    "total_rna": 12,
    "mrna": 5,
    "cdna": 5,
    "amplicon": 15,
    "library": 10,
    "other": 3,
}
ORGANISMS = [
    ("Escherichia coli", 4_600_000),
    ("Homo sapiens", 3_100_000_000),
    ("Mus musculus", 2_700_000_000),
    ("Arabidopsis thaliana", 135_000_000),
    ("Zea mays", 2_300_000_000),
    ("Saccharomyces cerevisiae", 12_000_000),
    ("Drosophila melanogaster", 140_000_000),
    ("Danio rerio", 1_400_000_000),
    ("Staphylococcus aureus", 2_800_000),
    ("Pseudomonas aeruginosa", 6_300_000),
    ("SARS-CoV-2", 30_000),
    ("Plasmodium falciparum", 23_000_000),
    (None, None),
]
SURNAMES = [
    "Okafor", "Lindqvist", "Moreau", "Tanaka", "Hernández", "Kowalski", "Nguyen", "Fischer", "Adeyemi",
    "Rossi", "Novak", "Haddad", "Silva", "Murphy", "Iyer", "Andersen", "Petrov", "Cohen", "Mensah", "Walsh",
]  # fmt: skip
GIVEN = ["A.", "B.", "C.", "D.", "E.", "F.", "G.", "H.", "J.", "K.", "L.", "M.", "N.", "P.", "R.", "S."]
PROJECT_WORDS = [
    "Microbiome", "Resistome", "Tumour", "Atlas", "Pangenome", "Cohort", "Outbreak", "Soil", "Marine",
    "Phylogeny", "Methylome", "Isoform", "Biobank", "Surveillance", "Evolution",
]  # fmt: skip
FLOW_CELLS = ["FLO-MIN114", "FLO-PRO114M", "FLO-FLG114", None]
BUFFERS = ["TE", "EB", "water", "AE", None]
KITS = ["SQK-LSK114", "SQK-NBD114.24", "SQK-RBK114.96", "SQK-ULK114", None]

COLUMNS = (
    "id", "tenant_id", "number", "human_id", "barcode", "name", "lab_id", "project", "submitter_name",
    "sample_type", "organism", "genome_size_bp", "concentration_ng_ul", "volume_ul", "buffer", "a260_280",
    "flow_cell_type", "library_kit", "priority", "priority_rank", "due_at", "notes", "status", "held_from",
    "status_reason", "status_changed_at", "received_at", "delivered_at", "search_text", "version",
    "created_at", "updated_at",
)  # fmt: skip


@dataclass(frozen=True)
class Facility:
    tenant_id: uuid.UUID
    id_prefix: str
    lab_ids: list[uuid.UUID]
    first_number: int


def barcode_of(number: int) -> str:
    # Multiplying by a number prime to 10^9 permutes 0..10^9-1: unique, yet not sequential,
    # so that a few digits typed into the search box match a handful of tubes, as in a real lab.
    return f"TB{(number * 7_919_003) % 1_000_000_000:09d}"


def _uuid7(moment: datetime, chance: random.Random) -> uuid.UUID:
    # Time-ordered like the application's own ids, at the sample's creation time.
    unix_ms = int(moment.timestamp() * 1000)
    value = (unix_ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | chance.getrandbits(12) << 64
    value |= 0b10 << 62 | chance.getrandbits(62)
    return uuid.UUID(int=value)


def rows(facility: Facility, count: int, seed: int = 12) -> Iterator[tuple[Any, ...]]:
    """COLUMNS-ordered tuples, numbered from the facility's next number, oldest first."""
    chance = random.Random(seed + facility.first_number)
    now = datetime.now(UTC).replace(microsecond=0)
    # Three years of intake, evenly spread: the newest row is a few minutes old.
    span = timedelta(days=3 * 365)
    step = span / max(count, 1)
    start = now - span
    states, state_weights = list(STATES), list(STATES.values())
    types, type_weights = list(SAMPLE_TYPES), list(SAMPLE_TYPES.values())
    priorities = list(PRIORITIES)
    priority_weights = [weight for weight, _, _ in PRIORITIES.values()]
    submitters = [f"{given} {surname}" for surname in SURNAMES for given in GIVEN[:3]]
    projects = [f"{word} {year}" for word in PROJECT_WORDS for year in (2024, 2025, 2026)]
    for offset in range(count):
        number = facility.first_number + offset
        created = start + step * offset
        status = chance.choices(states, state_weights)[0]
        priority = chance.choices(priorities, priority_weights)[0]
        _, rank, turnaround_days = PRIORITIES[priority]
        organism, genome_size = chance.choice(ORGANISMS)
        human_id = f"{facility.id_prefix}-{number:06d}"
        barcode = barcode_of(number)
        sample_type = chance.choices(types, type_weights)[0]
        name = f"{(organism or 'Unknown').split()[0][:12]} {sample_type.replace('_', ' ')} {number}"
        submitter = chance.choice(submitters)
        received = created + timedelta(hours=chance.randint(2, 96)) if status != "submitted" else None
        delivered = created + timedelta(days=chance.randint(5, 40)) if status in ("delivered", "archived") else None
        changed = delivered or received or created
        held_from = chance.choice(ACTIVE[1:]) if status == "on_hold" else None
        reason = "Waiting for the submitter's answer" if status in ("on_hold", "failed", "cancelled") else None
        yield (
            _uuid7(created, chance),
            facility.tenant_id,
            number,
            human_id,
            barcode,
            name,
            chance.choice(facility.lab_ids) if facility.lab_ids else None,
            chance.choice(projects),
            submitter,
            sample_type,
            organism,
            genome_size,
            round(chance.uniform(0.5, 250), 2),
            round(chance.uniform(10, 200), 1),
            chance.choice(BUFFERS),
            round(chance.uniform(1.6, 2.1), 2),
            chance.choice(FLOW_CELLS),
            chance.choice(KITS),
            priority,
            rank,
            created + timedelta(days=turnaround_days),
            "Extracted with the facility kit; see the submission form." if offset % 7 == 0 else None,
            status,
            held_from,
            reason,
            changed,
            received,
            delivered,
            search_text(human_id, barcode, name, submitter, organism),
            1,
            created,
            changed,
        )


def _chunks(facility: Facility, count: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows(facility, count):
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def seed_postgres(dsn: str, slug: str, count: int) -> int:
    import asyncpg

    url = make_url(dsn).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(url)
    try:
        tenant_id = await connection.fetchval("SELECT id FROM tenants WHERE slug = $1", slug)
        if tenant_id is None:
            raise SystemExit(f"no facility '{slug}': create it with `seqtrack admin create` first")
        prefix = await connection.fetchval("SELECT id_prefix FROM sample_settings WHERE tenant_id = $1", tenant_id)
        last = await connection.fetchval("SELECT last_number FROM sample_counters WHERE tenant_id = $1", tenant_id)
        labs = await connection.fetch("SELECT id FROM labs WHERE tenant_id = $1 ORDER BY name", tenant_id)
        facility = Facility(tenant_id, prefix or DEFAULT_ID_PREFIX, [lab["id"] for lab in labs], (last or 0) + 1)
        # Secondary indexes only: the unique constraints keep guarding the load.
        indexes = await connection.fetch(
            """SELECT indexname, indexdef FROM pg_indexes
               WHERE schemaname = current_schema() AND tablename = 'samples'
                 AND indexname NOT IN (SELECT conname FROM pg_constraint)"""
        )
        for index in indexes:
            await connection.execute(f'DROP INDEX "{index["indexname"]}"')
        # The next chunk is generated in a thread while PostgreSQL takes the current one.
        chunks = _chunks(facility, count)
        pending = asyncio.create_task(asyncio.to_thread(next, chunks, None))
        while (chunk := await pending) is not None:
            pending = asyncio.create_task(asyncio.to_thread(next, chunks, None))
            await connection.copy_records_to_table("samples", records=chunk, columns=COLUMNS)
        await connection.execute("SET maintenance_work_mem = '256MB'")
        for index in indexes:
            await connection.execute(index["indexdef"])
        await connection.execute(
            """INSERT INTO sample_counters (tenant_id, last_number) VALUES ($1, $2)
               ON CONFLICT (tenant_id) DO UPDATE SET last_number = GREATEST(sample_counters.last_number, $2)""",
            tenant_id,
            facility.first_number + count - 1,
        )
        await connection.execute("ANALYZE samples")
    finally:
        await connection.close()
    return count


def seed_sqlite(dsn: str, slug: str, count: int) -> int:
    from sqlalchemy import create_engine, insert, text

    # Through SQLAlchemy's own column types, so ids and timestamps are stored exactly as the app stores them.
    from seqtrack.samples.models import Sample

    engine = create_engine(make_url(dsn).set(drivername="sqlite"))
    try:
        with engine.begin() as connection:
            tenant_hex = connection.scalar(text("SELECT id FROM tenants WHERE slug = :slug"), {"slug": slug})
            if tenant_hex is None:
                raise SystemExit(f"no facility '{slug}': create it with `seqtrack admin create` first")
            tenant_id = uuid.UUID(str(tenant_hex))
            prefix = connection.scalar(
                text("SELECT id_prefix FROM sample_settings WHERE tenant_id = :t"), {"t": tenant_id.hex}
            )
            last = connection.scalar(
                text("SELECT last_number FROM sample_counters WHERE tenant_id = :t"), {"t": tenant_id.hex}
            )
            labs = connection.scalars(
                text("SELECT id FROM labs WHERE tenant_id = :t ORDER BY name"), {"t": tenant_id.hex}
            ).all()
        lab_ids = [uuid.UUID(str(lab)) for lab in labs]
        facility = Facility(tenant_id, prefix or DEFAULT_ID_PREFIX, lab_ids, (last or 0) + 1)
        for chunk in _chunks(facility, count):
            with engine.begin() as connection:
                connection.execute(insert(Sample), [dict(zip(COLUMNS, row, strict=True)) for row in chunk])
        with engine.begin() as connection:
            connection.execute(
                text(
                    """INSERT INTO sample_counters (tenant_id, last_number) VALUES (:t, :n)
                       ON CONFLICT (tenant_id) DO UPDATE SET last_number = max(last_number, excluded.last_number)"""
                ),
                {"t": tenant_id.hex, "n": facility.first_number + count - 1},
            )
            connection.execute(text("ANALYZE samples"))
    finally:
        engine.dispose()
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenant", required=True, help="Facility slug (made by `seqtrack admin create`).")
    parser.add_argument("--samples", type=int, required=True)
    args = parser.parse_args(argv)
    # Settings only for the database location; the benchmark's server reads the same variables.
    dsn = Settings().database_dsn
    started = time.perf_counter()
    if dsn.startswith("sqlite"):
        seeded = seed_sqlite(dsn, args.tenant, args.samples)
    else:
        seeded = asyncio.run(seed_postgres(dsn, args.tenant, args.samples))
    print(f"seeded {seeded:,} samples in {time.perf_counter() - started:.1f} s", file=sys.stderr)  # noqa: T201


if __name__ == "__main__":
    main()
