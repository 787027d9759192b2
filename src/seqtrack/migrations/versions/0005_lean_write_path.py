"""the outbox refers to its event instead of copying it; the database writes the row; due-date index

Revision ID: 0005
Revises: 0004

Each event used to be written twice more: as the outbox row's envelope and as
the row's own copies of its type and aggregate. The outbox now holds only what
the relay needs to find unpublished events in commit order, and a trigger adds
it with the event, so the write path sends one statement for both.
"""

import json
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED = ("envelope", "aggregate_type", "aggregate_id", "type")

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION seqtrack_event_to_outbox() RETURNS trigger AS $$
BEGIN
    INSERT INTO outbox (event_id, tenant_id, created_at, attempts)
    VALUES (NEW.id, NEW.tenant_id, NEW.occurred_at, 0);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
POSTGRES_TRIGGER = (
    "CREATE TRIGGER events_to_outbox AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION seqtrack_event_to_outbox()"
)
SQLITE_TRIGGER = """
CREATE TRIGGER events_to_outbox AFTER INSERT ON events
BEGIN
    INSERT INTO outbox (event_id, tenant_id, created_at, attempts)
    VALUES (NEW.id, NEW.tenant_id, NEW.occurred_at, 0);
END
"""


def upgrade() -> None:
    # The due-date range filter was the one list filter without an index.
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.create_index("ix_samples_tenant_due_date", ["tenant_id", "due_date", "id"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        for column in DROPPED:
            batch_op.drop_column(column)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_to_outbox ON events")
        op.execute("DROP FUNCTION IF EXISTS seqtrack_event_to_outbox()")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_to_outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("aggregate_type", sa.String(length=40), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("aggregate_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("type", sa.String(length=80), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("envelope", sa.JSON(), nullable=False, server_default="{}"))
    _restore_copies()
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_index("ix_samples_tenant_due_date")


def _restore_copies() -> None:
    """Give every outbox row its copies back, so the older relay can still publish what is pending."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT o.position, e.id, e.tenant_id, e.aggregate_type, e.aggregate_id, e.version, e.type, e.data,"
            " e.actor_id, e.actor_kind, e.actor_display, e.correlation_id, e.occurred_at"
            " FROM outbox o JOIN events e ON e.id = o.event_id"
        )
    ).mappings()
    events = sa.table(
        "outbox",
        sa.column("position"),
        sa.column("aggregate_type"),
        sa.column("aggregate_id", sa.Uuid()),
        sa.column("type"),
        sa.column("envelope", sa.JSON()),
    )
    for row in list(rows):
        data = row["data"] if not isinstance(row["data"], str) else json.loads(row["data"])
        occurred = row["occurred_at"]
        envelope = {
            "id": str(_uuid(row["id"])),
            "type": row["type"],
            "tenant_id": str(_uuid(row["tenant_id"])),
            "aggregate_type": row["aggregate_type"],
            "aggregate_id": str(_uuid(row["aggregate_id"])),
            "version": row["version"],
            "occurred_at": occurred if isinstance(occurred, str) else occurred.isoformat(),
            "actor": {
                "id": str(_uuid(row["actor_id"])) if row["actor_id"] else None,
                "kind": row["actor_kind"],
                "display": row["actor_display"],
            },
            "correlation_id": row["correlation_id"],
            "data": data,
        }
        connection.execute(
            events.update()
            .where(events.c.position == row["position"])
            .values(
                aggregate_type=row["aggregate_type"],
                aggregate_id=_uuid(row["aggregate_id"]),
                type=row["type"],
                envelope=envelope,
            )
        )


def _uuid(value: Any) -> uuid.UUID:
    # A plain-text query hands SQLite's stored UUIDs back as 32 hex digits, PostgreSQL's as UUIDs.
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
