"""The error report: the rows that need fixing, in the submitter's own columns, plus what is wrong.

Cells starting with =, +, - or @ are written so a spreadsheet shows them as
text: a submitted "=HYPERLINK(...)" is kept as the submitter wrote it but never runs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from seqtrack.intake import repository
from seqtrack.intake.models import Submission, SubmissionRow
from seqtrack.intake.validation import export_cell
from seqtrack.platform.database import Database

ERRORS_HEADING = "Errors"
ROW_HEADING = "Row"


def report_name(submission: Submission) -> str:
    stem = (submission.file_name or "submission").rsplit(".", 1)[0]
    safe = "".join(char if char.isalnum() or char in "-_" else "_" for char in stem)[:80]
    return f"{safe}-errors"


def _describe(row: SubmissionRow) -> str:
    return "; ".join(f"{error['column']}: {error['message']}" for error in row.errors)


def _line(submission: Submission, row: SubmissionRow) -> list[str]:
    cells = list(row.cells) + [""] * max(0, len(submission.columns) - len(row.cells))
    return [str(row.row_number), *(export_cell(str(cell)) for cell in cells), export_cell(_describe(row))]


async def _rows(database: Database, submission: Submission) -> AsyncIterator[list[SubmissionRow]]:
    after = 0
    while True:
        async with database.read_session() as session:
            rows = await repository.rows_page(session, submission.id, after=after, limit=1000, only_problems=False)
        wrong = [row for row in rows if row.error_count]
        if wrong:
            yield wrong
        if len(rows) < 1000:
            return
        after = rows[-1].row_number


async def error_csv(database: Database, submission: Submission) -> AsyncIterator[bytes]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([ROW_HEADING, *submission.columns, ERRORS_HEADING])
    yield ("\ufeff" + out.getvalue()).encode()
    async for batch in _rows(database, submission):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for row in batch:
            writer.writerow(_line(submission, row))
        yield out.getvalue().encode()


async def error_xlsx(database: Database, submission: Submission) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet: Any = workbook.create_sheet("Errors")
    sheet.append([ROW_HEADING, *submission.columns, ERRORS_HEADING])
    async for batch in _rows(database, submission):
        for row in batch:
            # openpyxl stores a string starting with "=" as a formula: the apostrophe keeps it text.
            sheet.append(_line(submission, row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
