"""Key rotation for personal data: every stored value moved to the active key, in batches, while serving.

Each batch is its own short transaction and each value says which key sealed it
(a kept file says so in its header, and is replaced whole, atomically), so a
rotation stopped at any point (even by kill -9) leaves every row and file readable
(old or new key) and the next run carries on where this one stopped. A row
changed by the application during a batch keeps the application's value: the
update only replaces the exact ciphertext it read. Values and files stored
before they were sealed are sealed on the way.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from seqtrack.events.recorder import DomainEvent, record
from seqtrack.intake import personal as intake_personal
from seqtrack.platform import crypto
from seqtrack.platform.actor import SYSTEM_TENANT_ID, Actor
from seqtrack.platform.database import Database
from seqtrack.platform.models import new_id

# Every column holding personal data encrypted whole (platform.crypto.EncryptedText, EncryptedJSON).
# Intake's rows (sealed cells) and kept files are moved by intake.personal.
ENCRYPTED_COLUMNS = (
    ("users", "email"),
    ("notification_preferences", "email"),
    ("submissions", "notify_email"),
    ("submissions", "details"),
)
KEYS_ROTATED = "keys.rotated"


@dataclass(frozen=True)
class Rotation:
    active_key: str
    rewritten: int
    by_column: dict[str, int]


def _table(name: str, column: str) -> sa.TableClause:
    # Plain strings, not the encrypting column type: rotation reads and writes the sealed values.
    return sa.table(name, sa.column("id", sa.Uuid()), sa.column(column, sa.String()))


async def rotate(
    database: Database,
    *,
    batch_size: int = 500,
    pause_seconds: float = 0.0,
    on_batch: Callable[[str, int], None] | None = None,
) -> Rotation:
    keyring = database.keyring
    current = f"{crypto.PREFIX}:{keyring.active_id}:"
    by_column: dict[str, int] = {}
    for table_name, column in ENCRYPTED_COLUMNS:
        table = _table(table_name, column)
        done = 0
        while True:
            async with database.write_session() as session:
                rows = (
                    await session.execute(
                        sa.select(table.c.id, table.c[column])
                        .where(table.c[column].is_not(None), sa.not_(table.c[column].startswith(current)))
                        .order_by(table.c.id)
                        .limit(batch_size)
                    )
                ).all()
                for row_id, sealed in rows:
                    plain = keyring.decrypt(sealed) if crypto.is_token(sealed) else sealed
                    await session.execute(
                        sa.update(table)
                        .where(table.c.id == row_id, table.c[column] == sealed)
                        .values({column: keyring.encrypt(plain)})
                    )
            if not rows:
                break
            done += len(rows)
            _report(on_batch, f"{table_name}.{column}", done)
            if pause_seconds:
                await asyncio.sleep(pause_seconds)
        by_column[f"{table_name}.{column}"] = done
    by_column[intake_personal.ROWS_COLUMN] = await intake_personal.reseal_rows(
        database,
        keyring,
        batch_size=batch_size,
        pause_seconds=pause_seconds,
        on_batch=lambda done: _report(on_batch, intake_personal.ROWS_COLUMN, done),
    )
    by_column[intake_personal.FILES] = await asyncio.to_thread(
        intake_personal.reseal_files,
        database.settings,
        keyring,
        lambda done: _report(on_batch, intake_personal.FILES, done),
    )
    total = sum(by_column.values())
    async with database.write_session() as session:
        await record(
            session,
            DomainEvent(
                type=KEYS_ROTATED,
                aggregate_type="keys",
                aggregate_id=new_id(),
                data={"active_key": keyring.active_id, "rewritten": total, "by_column": by_column},
            ),
            Actor.system(SYSTEM_TENANT_ID, "seqtrack keys rotate"),
            version=1,
        )
    return Rotation(keyring.active_id, total, by_column)


def _report(on_batch: Callable[[str, int], None] | None, what: str, done: int) -> None:
    if on_batch is not None:
        on_batch(what, done)


async def key_usage(database: Database) -> dict[str, Counter[str]]:
    """Per encrypted column, how many values each key id sealed ("plaintext" for any not yet sealed)."""
    usage: dict[str, Counter[str]] = {}
    async with database.read_session() as session:
        for table_name, column in ENCRYPTED_COLUMNS:
            table = _table(table_name, column)
            counts: Counter[str] = Counter()
            for (sealed,) in (await session.execute(sa.select(table.c[column]))).all():
                if sealed is not None:
                    counts[crypto.key_id_of(sealed) if crypto.is_token(sealed) else "plaintext"] += 1
            usage[f"{table_name}.{column}"] = counts
    return usage | await intake_personal.key_usage(database)
