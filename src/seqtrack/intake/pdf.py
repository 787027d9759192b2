"""Reading a filled-in PDF submission form: its text, then rules that find each field.

pdfplumber (MIT, on pdfminer.six, MIT) gives the text line by line; pypdf (BSD)
says whether the file is encrypted. Every field found carries a confidence
and the text it was read from, so a reviewer sees why SeqTrack believes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqtrack.intake import mapping
from seqtrack.intake.errors import FileRefused
from seqtrack.intake.mapping import ColumnMapping

MAX_PAGES = 50
# A labelled answer ("Billing (chart) code: NANO-042") read by a rule that knows the label.
LABEL_CONFIDENCE = 0.95
# A table cell split from its line by spaces: right unless a value itself has spaces.
TABLE_CONFIDENCE = 0.9
_LABELLED = re.compile(r"^\s*(?P<label>[^:]{2,60}):\s*(?P<value>.*\S)?\s*$")


@dataclass
class FormReading:
    """What a form says: submission-wide answers and one row per sample, each with confidence and evidence."""

    text: str
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    mappings: list[ColumnMapping] = field(default_factory=list)
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    header_row: int | None = None


def extract_text(path: Path) -> str:
    """The form's text, page by page; an encrypted or damaged PDF is refused, naming which."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        encrypted = reader.is_encrypted
    except (PdfReadError, ValueError, OSError, KeyError, TypeError) as exc:
        raise FileRefused(f"The PDF cannot be read: {exc}.", problem="malformed_pdf") from None
    if encrypted:
        raise FileRefused(
            "The PDF is encrypted (password-protected); send the form without a password.", problem="encrypted_pdf"
        )
    import pdfplumber
    from pdfminer.pdfparser import PDFSyntaxError

    try:
        with pdfplumber.open(path) as document:
            if len(document.pages) > MAX_PAGES:
                raise FileRefused(
                    f"The PDF has {len(document.pages)} pages; a form may have at most {MAX_PAGES}.",
                    problem="too_many_pages",
                )
            return "\n".join(page.extract_text() or "" for page in document.pages)
    except FileRefused:
        raise
    except (PDFSyntaxError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FileRefused(f"The PDF cannot be read: {exc}.", problem="malformed_pdf") from None
    except Exception as exc:  # pdfminer raises its own kinds for damaged streams
        raise FileRefused(f"The PDF cannot be read: {type(exc).__name__}.", problem="malformed_pdf") from None


def read_form(text: str) -> FormReading:
    form = FormReading(text)
    lines = [line.rstrip() for line in text.splitlines()]
    table_start = _table_header(lines)
    for index, line in enumerate(lines[: table_start if table_start is not None else len(lines)]):
        match = _LABELLED.match(line)
        if match is None or not match.group("value"):
            continue
        label, value = match.group("label").strip(), match.group("value").strip()
        name = mapping.map_label(label)
        if name is None or name in form.details or set(value) <= {"_", " "}:
            continue
        form.details[name] = _answer(name, label, value, line.strip(), index + 1)
    if table_start is not None:
        _read_table(form, lines, table_start)
    return form


def _answer(name: str, label: str, value: str, line: str, line_number: int) -> dict[str, Any]:
    confidence = LABEL_CONFIDENCE
    stored: Any = value
    if name in mapping.CONTROLLED_FIELDS:
        reading = mapping.normalise_controlled(name, value)
        if reading is None:
            stored, confidence = value, 0.3
        else:
            stored, confidence = reading.value, round(min(LABEL_CONFIDENCE, reading.confidence), 2)
    elif name in mapping.NUMBER_FIELDS:
        number = mapping.parse_number(value)
        if number is None:
            confidence = 0.3
        else:
            stored = int(number) if mapping.NUMBER_FIELDS[name] is int and number.is_integer() else number
    return {
        "value": stored,
        "written": value,
        "confidence": confidence,
        "evidence": line,
        "label": label,
        "line": line_number,
        "source": "rules",
    }


def _table_header(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if ":" in line:
            continue
        if _split_header(line.split(), None) is not None:
            return index
    return None


def _split_header(words: list[str], count: int | None) -> list[ColumnMapping] | None:
    """Group a header line's words into columns that each name a field (``count`` of them, when known)."""
    best: list[ColumnMapping] | None = None

    def walk(start: int, taken: list[ColumnMapping]) -> None:
        nonlocal best
        if start == len(words):
            fields = {column.field for column in taken}
            fits = "name" in fields and len(taken) >= 3 and (count is None or len(taken) == count)
            if fits and (best is None or len(taken) > len(best)):
                best = list(taken)
            return
        for end in range(min(len(words), start + 4), start, -1):
            column = mapping.map_header(" ".join(words[start:end]))
            if column.field is not None and column.field in mapping.SAMPLE_FIELDS:
                walk(end, [*taken, column])

    walk(0, [])
    return best


def _read_table(form: FormReading, lines: list[str], start: int) -> None:
    words = lines[start].split()
    body: list[tuple[int, list[str]]] = []
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        cells = line.split()
        if not cells or ":" in line:
            break
        body.append((number, cells))
    widths = {len(cells) for _number, cells in body}
    count = max(widths, key=lambda width: sum(len(cells) == width for _n, cells in body)) if body else None
    columns = _split_header(words, count) or _split_header(words, None)
    if columns is None:
        return
    form.header_row = start + 1
    form.columns = [column.column for column in columns]
    form.mappings = columns
    for number, cells in body:
        if len(cells) > len(columns):
            # A name with spaces: the extra words belong to the first column.
            extra = len(cells) - len(columns) + 1
            cells = [" ".join(cells[:extra]), *cells[extra:]]
        form.rows.append((number, cells))


def request_defaults(details: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The answers that apply to every sample the form lists (sample type, kit, project…).

    The number of flow cells is the request's, not each sample's: it stays on the submission.
    """
    wanted = {*mapping.REQUEST_FIELDS, "project", "billing_code", "submitter_name"} - {"flow_cell_count"}
    return {name: answer for name, answer in details.items() if name in wanted}
