"""Reading the CSV a rack reader writes: position → tube barcode for a whole rack.

VisionMate and Ziath (DataPaq) readers export one line per position, with or
without a header line, comma-, semicolon- or tab-separated, positions written
``A01`` or ``A1``, and words instead of a barcode where no tube or no code was
seen. Every bad row is reported with its row number and column, all together.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from seqtrack.storage.errors import InvalidRackScan
from seqtrack.storage.rules import parse_position

MAX_BYTES = 1_000_000
_POSITION = re.compile(r"[A-Za-z]0*[1-9][0-9]?")
# What readers write where a position has no tube, or has one whose code could not be read.
EMPTY_WORDS = frozenset({"", "NO TUBE", "NOTUBE", "EMPTY", "NONE", "NO_TUBE"})
UNREADABLE_WORDS = frozenset({"NO READ", "NOREAD", "NO_READ", "NO CODE", "NOCODE", "ERROR", "FAILED", "UNREADABLE"})


@dataclass(frozen=True)
class ScannedPosition:
    row_number: int
    position: str
    row_index: int
    column_index: int
    barcode: str | None
    unreadable: bool


@dataclass(frozen=True)
class RackScan:
    rack_barcode: str | None
    positions: list[ScannedPosition]


def parse(content: bytes, rows: int, columns: int) -> RackScan:
    """The positions of a rack-reader CSV, checked against a rows × columns grid."""
    if len(content) > MAX_BYTES:
        raise InvalidRackScan(
            f"A rack scan is at most {MAX_BYTES // 1000} kB; this file is larger.",
            errors=[{"field": "file", "message": "too large"}],
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("latin-1")
    if "\x00" in text:
        raise InvalidRackScan("The file is not a CSV text file.", errors=[{"field": "file", "message": "binary"}])
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InvalidRackScan("The rack scan is empty.", errors=[{"field": "file", "message": "no rows"}])
    delimiter = max((",", ";", "\t"), key=lambda candidate: lines[0].count(candidate))
    table = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    position_column, barcode_column, rack_column, first_data = _columns(table[0])
    errors: list[dict[str, object]] = []
    found: list[ScannedPosition] = []
    seen: dict[str, int] = {}
    rack_barcode: str | None = None
    for number, cells in enumerate(table[first_data:], start=first_data + 1):
        cells = [cell.strip() for cell in cells]
        where = position_column
        if where is None:
            where = next((index for index, cell in enumerate(cells) if _POSITION.fullmatch(cell)), None)
        if where is None or where >= len(cells):
            errors.append({"row": number, "column": "position", "message": "no position (A1 … H12) in this row"})
            continue
        parsed = parse_position(cells[where], rows, columns)
        if parsed is None:
            errors.append(
                {"row": number, "column": "position", "message": f"{cells[where]!r} is not a position of this box"}
            )
            continue
        name, row_index, column_index = parsed
        if name in seen:
            errors.append({"row": number, "column": "position", "message": f"{name} is also on row {seen[name]}"})
            continue
        seen[name] = number
        column = barcode_column if barcode_column is not None else where + 1
        raw = cells[column] if column < len(cells) else ""
        if rack_column is not None and rack_column < len(cells) and cells[rack_column]:
            rack_barcode = rack_barcode or cells[rack_column]
        word = raw.upper()
        unreadable = word in UNREADABLE_WORDS
        barcode = None if word in EMPTY_WORDS or unreadable else raw
        found.append(ScannedPosition(number, name, row_index, column_index, barcode, unreadable))
    if errors:
        raise InvalidRackScan(
            f"{len(errors)} rows of the rack scan cannot be read; nothing was changed.", errors=errors
        )
    return RackScan(rack_barcode, found)


def _columns(header: list[str]) -> tuple[int | None, int | None, int | None, int]:
    """Column indices of position, tube barcode and rack barcode, and the first data row (0 or 1)."""
    names = [cell.strip().lower() for cell in header]
    if any(_POSITION.fullmatch(cell.strip()) for cell in header):
        return None, None, None, 0
    position = next(
        (i for i, name in enumerate(names) if "position" in name or name in {"well", "pos", "location"}), None
    )
    tube = next((i for i, name in enumerate(names) if "tube" in name and ("barcode" in name or "id" in name)), None)
    if tube is None:
        tube = next((i for i, name in enumerate(names) if "barcode" in name and "rack" not in name), None)
    rack = next((i for i, name in enumerate(names) if "rack" in name), None)
    return position, tube, rack, 1
