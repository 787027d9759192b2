"""The MinKNOW sample sheet of a run, valid by construction.

MinKNOW refuses a sheet whose experiment_id, sample_id or alias holds anything
but letters, digits, '-' and '_' (at most 40), whose aliases repeat or look like
barcode names, or that mixes flow_cell_id and position_id. The names that go
into it are held to those rules when they are entered; :func:`check` proves the
assembled sheet once more before it leaves.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

COLUMNS = ("flow_cell_id", "kit", "experiment_id", "sample_id", "alias", "barcode")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_BARCODE_LIKE = re.compile(r"^(barcode|BC|NB|RB|BP)[0-9]+$", re.IGNORECASE)


@dataclass(frozen=True)
class SheetRow:
    flow_cell_id: str
    kit: str
    experiment_id: str
    sample_id: str
    alias: str
    barcode: str


def check(rows: Sequence[SheetRow]) -> list[str]:
    """Why MinKNOW would refuse these rows (empty: it will take them)."""
    problems: list[str] = []
    aliases: set[str] = set()
    barcodes: set[str] = set()
    for number, row in enumerate(rows, start=2):
        for name in ("experiment_id", "sample_id", "alias"):
            if not _NAME.match(getattr(row, name)):
                problems.append(f"row {number}: {name} {getattr(row, name)!r} is not a MinKNOW name")
        if _BARCODE_LIKE.match(row.alias):
            problems.append(f"row {number}: alias {row.alias!r} looks like a barcode name")
        if row.alias in aliases:
            problems.append(f"row {number}: alias {row.alias!r} repeats")
        if row.barcode and row.barcode in barcodes:
            problems.append(f"row {number}: {row.barcode} repeats")
        aliases.add(row.alias)
        barcodes.add(row.barcode)
    if len({(row.flow_cell_id, row.kit, row.experiment_id, row.sample_id) for row in rows}) > 1:
        problems.append("flow_cell_id, kit, experiment_id and sample_id must be the same on every row")
    return problems


def render(rows: Sequence[SheetRow]) -> str:
    # An unbarcoded run has no alias or barcode columns: MinKNOW would look for barcodes otherwise.
    columns = COLUMNS if any(row.barcode for row in rows) else COLUMNS[:4]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([getattr(row, column) for column in columns])
    return out.getvalue()
