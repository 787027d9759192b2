"""Reading a submitted file row by row, never all of it at once.

The kind of file is decided by its bytes, not its name. CSV is decoded line by
line (UTF-8 with or without BOM, else Windows-1252; a file mixing the two is
refused rather than read as mojibake), its delimiter sniffed; XLSX goes through
openpyxl's read-only mode after the archive is checked for a zip bomb.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

from seqtrack.intake import mapping
from seqtrack.intake.errors import FileRefused, UnsupportedFile

SNIFF_BYTES = 64 * 1024
MAX_COLUMNS = 500
MAX_CELL_CHARS = 10_000
# How far down a sheet the header row may start (a form's header block comes first).
HEADER_SEARCH_ROWS = 40
# An XLSX is a ZIP: refuse one that would inflate past these before any XML is parsed.
MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
MAX_COMPRESSION_RATIO = 150
MAX_ARCHIVE_ENTRIES = 2_000

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x7fELF", "a program (ELF)"),
    (b"MZ", "a Windows program"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xd0\xcf\x11\xe0", "a legacy Excel 97-2003 (.xls) or Word file; save it as .xlsx"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)


def sniff_kind(path: Path, file_name: str | None) -> str:
    """``csv``, ``xlsx`` or ``pdf`` by content; anything else is refused naming what it is."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    named = f" (named {file_name!r})" if file_name else ""
    if not head:
        raise FileRefused("The file is empty.", problem="empty_file")
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile:
            raise UnsupportedFile(f"The file{named} is a damaged ZIP archive, not a spreadsheet.") from None
        if "xl/workbook.xml" in names:
            return "xlsx"
        raise UnsupportedFile(f"The file{named} is a ZIP archive but not an Excel workbook (.xlsx).")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise UnsupportedFile(f"The file{named} is {what}, not CSV, XLSX or a PDF form.")
    if b"\x00" in head:
        raise UnsupportedFile(f"The file{named} is binary data, not CSV, XLSX or a PDF form.")
    return "csv"


@dataclass
class Sheet:
    """Rows of cells as text, numbered as a spreadsheet numbers them."""

    rows: Iterator[tuple[int, list[str]]]
    encoding: str | None = None
    delimiter: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- CSV


def _encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sniff window is still UTF-8.
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
        if any(byte >= 0x80 for byte in head[: exc.start]):
            # Accented text that is good UTF-8 before a byte that is not: two encodings in one file.
            line = head[: exc.start].count(b"\n") + 1
            raise FileRefused(
                f"Line {line} is not UTF-8 although the lines before it are: the file mixes encodings. "
                "Save it again as UTF-8.",
                problem="mixed_encodings",
                line=line,
            ) from None
        return "cp1252"


def _delimiter(head: str) -> str:
    first = next((line for line in head.splitlines() if line.strip()), "")
    counts = {delimiter: _unquoted_count(first, delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _unquoted_count(line: str, delimiter: str) -> int:
    quoted = False
    count = 0
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def _decoded_lines(handle: BinaryIO, encoding: str) -> Iterator[str]:
    """Lines of text; a line in another encoding than the file's is refused by its line number."""
    for number, raw in enumerate(handle, start=1):
        if encoding.startswith("utf-8"):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise FileRefused(
                    f"Line {number} is not UTF-8 although the lines before it are: the file mixes encodings. "
                    "Save it again as UTF-8.",
                    problem="mixed_encodings",
                    line=number,
                ) from None
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
        else:
            if any(byte >= 0x80 for byte in raw):
                try:
                    raw.decode("utf-8")
                    mixed = True
                except UnicodeDecodeError:
                    mixed = False
                if mixed:
                    raise FileRefused(
                        f"Line {number} is UTF-8 while earlier lines are Windows-1252: the file mixes encodings. "
                        "Save it again as UTF-8.",
                        problem="mixed_encodings",
                        line=number,
                    )
            text = raw.decode("cp1252", errors="replace")
        yield text


def read_csv(path: Path) -> Sheet:
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    encoding = _encoding(head)
    delimiter = _delimiter(head.decode("utf-8" if encoding.startswith("utf-8") else "cp1252", errors="replace"))

    def rows() -> Iterator[tuple[int, list[str]]]:
        with path.open("rb") as handle:
            reader = csv.reader(_decoded_lines(handle, encoding), delimiter=delimiter)
            try:
                for number, cells in enumerate(reader, start=1):
                    if len(cells) > MAX_COLUMNS:
                        raise FileRefused(
                            f"Row {number} has {len(cells):,} columns; a submission may have at most {MAX_COLUMNS}.",
                            problem="too_many_columns",
                            row=number,
                        )
                    yield number, cells
            except csv.Error as exc:
                raise FileRefused(
                    f"The CSV cannot be read near line {reader.line_num}: {exc}.",
                    problem="malformed_csv",
                    line=reader.line_num,
                ) from None

    return Sheet(rows(), encoding="utf-8" if encoding == "utf-8-sig" else encoding, delimiter=delimiter)


# ---------------------------------------------------------------- XLSX


def check_archive(path: Path) -> None:
    """Refuse a workbook that would inflate to far more than it weighs (a zip bomb) before opening it."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile:
        raise UnsupportedFile("The workbook is a damaged ZIP archive.") from None
    if len(entries) > MAX_ARCHIVE_ENTRIES:
        raise FileRefused(f"The workbook holds {len(entries):,} parts; refused.", problem="archive_too_large")
    total = sum(entry.file_size for entry in entries)
    packed = max(sum(entry.compress_size for entry in entries), 1)
    if total > MAX_UNCOMPRESSED_BYTES or total / packed > MAX_COMPRESSION_RATIO:
        raise FileRefused(
            f"The workbook would expand from {packed:,} to {total:,} bytes (a zip bomb?); refused.",
            problem="archive_too_large",
        )


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def read_xlsx(path: Path) -> Sheet:
    check_archive(path)
    from openpyxl import load_workbook

    def rows() -> Iterator[tuple[int, list[str]]]:
        # A file object, not the path: stored files are named by their hash, and openpyxl judges paths by extension.
        handle = path.open("rb")
        try:
            workbook = load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
            handle.close()
            raise FileRefused(f"The workbook cannot be opened: {exc}.", problem="malformed_xlsx") from None
        try:
            sheet = workbook.worksheets[0]
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                if len(values) > MAX_COLUMNS:
                    # Trailing empty cells are formatting, not columns.
                    trimmed = list(values)
                    while trimmed and trimmed[-1] is None:
                        trimmed.pop()
                    if len(trimmed) > MAX_COLUMNS:
                        raise FileRefused(
                            f"Row {number} has {len(trimmed):,} columns; a submission may have at most {MAX_COLUMNS}.",
                            problem="too_many_columns",
                            row=number,
                        )
                    values = tuple(trimmed)
                yield number, [_cell_text(value) for value in values]
        finally:
            workbook.close()
            handle.close()

    return Sheet(rows())


def open_sheet(path: Path, kind: str) -> Sheet:
    return read_xlsx(path) if kind == "xlsx" else read_csv(path)


# ---------------------------------------------------------------- header


@dataclass
class Layout:
    """Where the samples table starts, what each column is, and the facts written above it."""

    header_row: int
    columns: list[str]
    mappings: list[mapping.ColumnMapping]
    details: dict[str, dict[str, Any]]


def _is_header(cells: list[str]) -> list[mapping.ColumnMapping] | None:
    mapped = [mapping.map_header(cell) for cell in cells]
    fields = {column.field for column in mapped if column.field in mapping.SAMPLE_FIELDS}
    if "name" in fields and len(fields) >= 2:
        return mapped
    return None


def find_layout(rows: Iterator[tuple[int, list[str]]]) -> Layout:
    """Read up to the samples' header row; ``rows`` then continues with the first sample."""
    details: dict[str, dict[str, Any]] = {}
    anything_written = False
    for number, cells in rows:
        anything_written = anything_written or any(cell.strip() for cell in cells)
        if any(len(cell) > MAX_CELL_CHARS for cell in cells):
            raise FileRefused(f"Row {number} has a cell over {MAX_CELL_CHARS:,} characters.", problem="cell_too_long")
        mapped = _is_header(cells)
        if mapped is not None:
            columns = [cell.strip() for cell in cells]
            seen: set[str] = set()
            unique: list[mapping.ColumnMapping] = []
            for column in mapped:
                # Two columns read as one field: the first wins, the second is shown as ignored.
                if column.field is not None and column.field in seen:
                    unique.append(mapping.ColumnMapping(column.column, None))
                    continue
                if column.field is not None:
                    seen.add(column.field)
                unique.append(column)
            return Layout(number, columns, unique, details)
        filled = [cell.strip() for cell in cells if cell.strip()]
        if len(filled) >= 2 and filled[0].endswith(":"):
            field = mapping.map_label(filled[0])
            if field is not None:
                details[field] = {"value": filled[1], "confidence": 1.0, "evidence": f"{filled[0]} {filled[1]}"}
        if number >= HEADER_SEARCH_ROWS:
            break
    if not anything_written:
        raise FileRefused("The file is empty.", problem="empty_file")
    raise FileRefused(
        "No header row naming the samples' columns was found (it needs at least a sample name column and one more, "
        "e.g. 'Sample Name' and 'Sample Type'). Download the template to see the expected columns.",
        problem="no_header",
    )
