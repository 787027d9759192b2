"""CSV export: streamed in keyset batches, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

from seqtrack.identity import service as identity_service
from seqtrack.platform.actor import Actor
from seqtrack.platform.database import Database
from seqtrack.samples import repository
from seqtrack.samples.repository import SampleFilter
from seqtrack.samples.views import SHOWN_FIELDS, sample_document

# Names beside the ids they stand for: a spreadsheet reader cannot look a UUID up.
NAMED_IDS = {"lab_id": "lab_name", "assigned_to": "assignee_name"}
COLUMNS = [
    *(column for field in SHOWN_FIELDS for column in (field, NAMED_IDS.get(field)) if column is not None),
    "overdue",
    "turnaround_hours",
]

# Excel, LibreOffice and Sheets run a cell starting with these as a formula
# (OWASP "CSV injection"), and skip leading spaces and line breaks to find them;
# a leading apostrophe makes the whole cell plain text.
FORMULA_PREFIXES = ("=", "+", "-", "@")
CONTROL_PREFIXES = ("\t", "\r", "\n")


def neutralise(value: Any) -> Any:
    if isinstance(value, str) and (value.startswith(CONTROL_PREFIXES) or value.lstrip().startswith(FORMULA_PREFIXES)):
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
        lab_names = {lab.id: lab.name for lab in await identity_service.list_labs(session, actor)}
        people: dict[uuid.UUID, str] = {}
        async for batch in repository.stream(session, actor, filters, sort, batch=CHUNK_ROWS):
            documents = [sample_document(row) for row in batch]
            unnamed = {document["assigned_to"] for document in documents} - people.keys() - {None}
            people |= await identity_service.display_names(session, actor, unnamed)
            for document in documents:
                document["lab_name"] = lab_names.get(document["lab_id"])
                document["assignee_name"] = people.get(document["assigned_to"])
                writer.writerow([neutralise(_cell(document[name])) for name in COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
