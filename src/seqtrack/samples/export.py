"""CSV export: streamed in keyset batches, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.samples import repository
from seqtrack.samples.repository import SampleFilter
from seqtrack.samples.views import SHOWN_FIELDS, sample_document

COLUMNS = [*SHOWN_FIELDS, "overdue", "turnaround_hours"]

# Excel, LibreOffice and Sheets run a cell starting with these as a formula
# (OWASP "CSV injection"); a leading apostrophe makes them plain text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


CHUNK_ROWS = 500


def _cell(value: Any) -> Any:
    """Times as the JSON API writes them (ISO 8601, UTC as Z)."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


async def sample_csv(database: Database, actor: Actor, filters: SampleFilter, sort: str) -> AsyncIterator[str]:
    """The header, then the samples in chunks of lines; the read session lives as long as the stream."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    async with database.read_session() as session:
        async for batch in repository.stream(session, actor, filters, sort, batch=CHUNK_ROWS):
            for row in batch:
                document = sample_document(row)
                writer.writerow([neutralise(_cell(document[name])) for name in COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
