"""Personal fields in what intake keeps: sealed at rest, given back opened to whoever may read the submission.

A submission's details (a form's header block and the lines each answer was read from,
which quote the address again) are sealed whole by their column type. A row keeps its
cells as written for the error report: only the cells under a personal column are sealed,
one by one, with any evidence quoting one; sealing a few cells rather than whole rows
keeps a 100,000-row file fast. A row's values never hold a personal field: a sample has
none, and the submission's details keep it.

Rows' cells and confidence read back through ``PartlySealedJSON``, which opens every
sealed string. A cell that merely looks like one (a submitter typing ``pii1:...``) is
sealed too, so that whatever reads back in that form is a real sealed value.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from seqtrack.intake import files
from seqtrack.intake.mapping import PERSONAL_FIELDS, map_header
from seqtrack.platform import crypto, sealed_files
from seqtrack.platform.database import Database
from seqtrack.settings import Settings

Confidence = dict[str, dict[str, Any]]
_MARK = f"{crypto.PREFIX}:"


def personal_columns(columns: Sequence[Mapping[str, Any]]) -> frozenset[int]:
    """The positions of a submission's columns read as a personal field, or headed as one.

    By the heading too: a person may map the "Submitter Email" column to nothing, and
    its cells are still addresses.
    """
    return frozenset(
        index
        for index, column in enumerate(columns)
        if column.get("field") in PERSONAL_FIELDS or map_header(str(column.get("column", ""))).field in PERSONAL_FIELDS
    )


@dataclass(frozen=True)
class RowSealer:
    keyring: crypto.Keyring
    columns: frozenset[int]

    def seal(self, cells: list[str], confidence: Confidence) -> tuple[list[str], Confidence]:
        """The cells and confidence of a row as they are stored."""
        secrets = [cells[index] for index in self.columns if index < len(cells) and cells[index].strip()]
        # One search over the joined row, not a call per cell: most rows have nothing that looks sealed.
        lookalikes = _MARK in "\x1f".join(cells)
        if not secrets and not confidence and not lookalikes:
            return cells, confidence
        sealed = list(cells)
        for index in self.columns:
            if index < len(cells) and cells[index].strip():
                sealed[index] = self.keyring.encrypt(cells[index])
        if lookalikes:
            for index, cell in enumerate(cells):
                if index not in self.columns and crypto.is_token(cell):
                    sealed[index] = self.keyring.encrypt(cell)
        return sealed, {name: self._evidence(seen, secrets) for name, seen in confidence.items()}

    def _evidence(self, seen: dict[str, Any], secrets: list[str]) -> dict[str, Any]:
        # A PDF row's evidence is its whole line: it quotes the address when the table has one.
        evidence = seen.get("evidence")
        if isinstance(evidence, str) and (
            crypto.is_token(evidence) or any(secret.strip() in evidence for secret in secrets)
        ):
            return {**seen, "evidence": self.keyring.encrypt(evidence)}
        return seen


# ---------------------------------------------------------------- key rotation

# The tables as stored, not through the opening column types: rotation works on the sealed values.
STORED_ROWS = sa.table(
    "submission_rows",
    sa.column("id", sa.Uuid()),
    sa.column("submission_id", sa.Uuid()),
    sa.column("cells", sa.JSON()),
    sa.column("confidence", sa.JSON()),
    sa.column("values", sa.JSON()),
    sa.column("version", sa.Integer()),
)
_SUBMISSIONS = sa.table("submissions", sa.column("id", sa.Uuid()), sa.column("mapping", sa.JSON()))
ROWS_COLUMN = "submission_rows.cells"
FILES = "files.intake"


def _in_submissions_with_personal_columns() -> sa.ColumnElement[bool]:
    mapping = sa.cast(_SUBMISSIONS.c.mapping, sa.Text)
    return STORED_ROWS.c.submission_id.in_(
        sa.select(_SUBMISSIONS.c.id).where(
            sa.or_(*(mapping.contains(f'"{name}"', autoescape=True) for name in sorted(PERSONAL_FIELDS)))
        )
    )


def _rows_to_visit(keyring: crypto.Keyring) -> sa.ColumnElement[bool]:
    """Rows holding a value sealed under another key, and rows of files with a personal column not yet sealed."""
    cells, confidence = sa.cast(STORED_ROWS.c.cells, sa.Text), sa.cast(STORED_ROWS.c.confidence, sa.Text)
    older = [f"{crypto.PREFIX}:{key_id}:" for key_id in keyring.keys if key_id != keyring.active_id]
    return sa.or_(
        *(text.contains(token, autoescape=True) for text in (cells, confidence) for token in older),
        sa.and_(_in_submissions_with_personal_columns(), sa.not_(cells.contains(f"{crypto.PREFIX}:"))),
    )


class _Columns:
    """Each submission's personal columns, looked up once per rotation."""

    def __init__(self) -> None:
        self.known: dict[uuid.UUID, frozenset[int]] = {}

    async def of(self, session: AsyncSession, submission_id: uuid.UUID) -> frozenset[int]:
        if submission_id not in self.known:
            mapping = await session.scalar(sa.select(_SUBMISSIONS.c.mapping).where(_SUBMISSIONS.c.id == submission_id))
            self.known[submission_id] = personal_columns(mapping or [])
        return self.known[submission_id]


def _shape(cells: list[Any], confidence: Mapping[str, Any]) -> tuple[object, ...]:
    return (
        tuple(crypto.key_id_of(cell) if _sealed(cell) else None for cell in cells),
        tuple(
            crypto.key_id_of(seen["evidence"]) if _sealed(seen.get("evidence")) else None
            for seen in confidence.values()
        ),
    )


def _sealed(value: object) -> bool:
    return isinstance(value, str) and crypto.is_token(value)


async def reseal_rows(
    database: Database,
    keyring: crypto.Keyring,
    *,
    batch_size: int,
    pause_seconds: float,
    on_batch: Callable[[int], None],
) -> int:
    """Move every row's sealed cells to the active key and seal rows stored before cells were sealed.

    Batches in their own transactions, in id order; a row the application changed meanwhile
    (its version moved) keeps the application's write.
    """
    columns = _Columns()
    visit = _rows_to_visit(keyring)
    after: uuid.UUID | None = None
    rewritten = 0
    while True:
        async with database.write_session() as session:
            query = sa.select(STORED_ROWS).where(visit)
            if after is not None:
                query = query.where(STORED_ROWS.c.id > after)
            batch = (await session.execute(query.order_by(STORED_ROWS.c.id).limit(batch_size))).all()
            for row in batch:
                sealer = RowSealer(keyring, await columns.of(session, row.submission_id))
                cells, confidence = sealer.seal(
                    crypto.opened(row.cells, keyring), crypto.opened(row.confidence or {}, keyring)
                )
                values = {name: value for name, value in row.values.items() if name not in PERSONAL_FIELDS}
                if _shape(cells, confidence) == _shape(row.cells, row.confidence or {}) and values == row.values:
                    continue
                await session.execute(
                    sa.update(STORED_ROWS)
                    .where(STORED_ROWS.c.id == row.id, STORED_ROWS.c.version == row.version)
                    .values(cells=cells, confidence=confidence, values=values)
                )
                rewritten += 1
        if not batch:
            return rewritten
        after = batch[-1].id
        on_batch(rewritten)
        if pause_seconds:
            await asyncio.sleep(pause_seconds)


def reseal_files(settings: Settings, keyring: crypto.Keyring, on_file: Callable[[int], None]) -> int:
    """Seal every kept file under the active key: one file at a time, each replaced only once complete."""
    rewritten = 0
    for path in files.stored_files(settings):
        if sealed_files.key_id_of(path) != keyring.active_id:
            sealed_files.reseal(path, keyring, files.working_dir(settings))
            rewritten += 1
            on_file(rewritten)
    return rewritten


async def key_usage(database: Database) -> dict[str, Counter[str]]:
    """How many sealed cells and kept files each key id sealed ("plaintext": personal ones not sealed yet)."""
    cells: Counter[str] = Counter()
    columns = _Columns()
    sealed_somewhere = sa.or_(
        sa.cast(STORED_ROWS.c.cells, sa.Text).contains(f"{crypto.PREFIX}:"),
        sa.cast(STORED_ROWS.c.confidence, sa.Text).contains(f"{crypto.PREFIX}:"),
        _in_submissions_with_personal_columns(),
    )
    query = sa.select(STORED_ROWS.c.submission_id, STORED_ROWS.c.cells, STORED_ROWS.c.confidence).where(
        sealed_somewhere
    )
    # One snapshot: a server-side cursor streams the rows (PostgreSQL opens one only in a transaction).
    async with database.snapshot_session() as session:
        async for submission_id, stored_cells, confidence in await session.stream(
            query.execution_options(yield_per=1000)
        ):
            personal = await columns.of(session, submission_id)
            for index, cell in enumerate(stored_cells):
                if _sealed(cell):
                    cells[crypto.key_id_of(cell)] += 1
                elif index in personal and str(cell).strip():
                    cells["plaintext"] += 1
            for seen in (confidence or {}).values():
                if _sealed(seen.get("evidence")):
                    cells[crypto.key_id_of(seen["evidence"])] += 1
    stored = await asyncio.to_thread(
        lambda: Counter(sealed_files.key_id_of(path) for path in files.stored_files(database.settings))
    )
    return {ROWS_COLUMN: cells, FILES: stored}
