"""What the API shows of a sample, built from a row without a model per row.

:class:`~seqtrack.samples.schemas.SampleOut` documents the shape in OpenAPI;
these functions produce it for the hot paths (lists, reads, writes, export),
and a test keeps the two in step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.sql.elements import KeyedColumnElement

from seqtrack.samples.lifecycle import is_overdue, turnaround_hours
from seqtrack.samples.models import Sample
from seqtrack.samples.schemas import SampleOut

_COMPUTED = ("overdue", "turnaround_hours")
SHOWN_FIELDS: tuple[str, ...] = tuple(name for name in SampleOut.model_fields if name not in _COMPUTED)
# Keyset cursors also need the columns behind the human_id and priority sorts.
CURSOR_FIELDS = ("number", "priority_rank")
COLUMNS: tuple[KeyedColumnElement[Any], ...] = tuple(
    Sample.__table__.c[name] for name in (*SHOWN_FIELDS, *CURSOR_FIELDS)
)


def sample_document(sample: Sample | Row[Any], now: datetime | None = None) -> dict[str, Any]:
    """The sample as the API shows it, from a row selected with :data:`COLUMNS` or a ``Sample``."""
    if isinstance(sample, Row):
        # A row is a tuple in COLUMNS order; zip stops before the cursor-only columns.
        document = dict(zip(SHOWN_FIELDS, sample, strict=False))
    else:
        document = {name: getattr(sample, name) for name in SHOWN_FIELDS}
    now = now or datetime.now(UTC)
    document["overdue"] = is_overdue(document["status"], document["due_at"], now)
    document["turnaround_hours"] = turnaround_hours(
        document["created_at"], document["received_at"], document["delivered_at"], now
    )
    return document
