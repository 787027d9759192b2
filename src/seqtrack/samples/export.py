"""CSV export: streamed in keyset batches, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from seqtrack.identity.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.samples import repository
from seqtrack.samples.repository import SampleFilter
from seqtrack.samples.schemas import SampleOut

COLUMNS = [name for name in SampleOut.model_fields if name != "search_text"] + ["overdue", "turnaround_hours"]

# Excel, LibreOffice and Sheets run a cell starting with these as a formula
# (OWASP "CSV injection"); a leading apostrophe makes them plain text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


CHUNK_ROWS = 500


async def sample_csv(database: Database, actor: Actor, filters: SampleFilter, sort: str) -> AsyncIterator[str]:
    """The header, then the samples in chunks of lines; the read session lives as long as the stream."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    rows = 0
    async with database.read_session() as session:
        async for sample in repository.stream(session, actor, filters, sort, batch=CHUNK_ROWS):
            row = SampleOut.model_validate(sample).model_dump(mode="json")
            writer.writerow([neutralise(row[name]) for name in COLUMNS])
            rows += 1
            if rows % CHUNK_ROWS == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()
