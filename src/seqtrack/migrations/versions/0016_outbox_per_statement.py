"""the outbox trigger runs once per statement on PostgreSQL: an import's 100,000 events, one call

Revision ID: 0016
Revises: 0015

Migration 0005 made the database add each event's outbox row, one trigger call
per event row. A bulk write of a thousand events paid a thousand calls; a
statement-level trigger reads the statement's new rows as a table and adds
their outbox rows in one INSERT, in the events' own order. SQLite has no
statement-level triggers and keeps the row trigger.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PER_STATEMENT_FUNCTION = """
CREATE OR REPLACE FUNCTION seqtrack_events_to_outbox() RETURNS trigger AS $$
BEGIN
    INSERT INTO outbox (event_id, tenant_id, created_at, attempts)
    SELECT id, tenant_id, occurred_at, 0 FROM new_events ORDER BY position;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
PER_STATEMENT_TRIGGER = (
    "CREATE TRIGGER events_to_outbox AFTER INSERT ON events REFERENCING NEW TABLE AS new_events"
    " FOR EACH STATEMENT EXECUTE FUNCTION seqtrack_events_to_outbox()"
)
PER_ROW_FUNCTION = """
CREATE OR REPLACE FUNCTION seqtrack_event_to_outbox() RETURNS trigger AS $$
BEGIN
    INSERT INTO outbox (event_id, tenant_id, created_at, attempts)
    VALUES (NEW.id, NEW.tenant_id, NEW.occurred_at, 0);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
PER_ROW_TRIGGER = (
    "CREATE TRIGGER events_to_outbox AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION seqtrack_event_to_outbox()"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS events_to_outbox ON events")
    op.execute("DROP FUNCTION IF EXISTS seqtrack_event_to_outbox()")
    op.execute(PER_STATEMENT_FUNCTION)
    op.execute(PER_STATEMENT_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS events_to_outbox ON events")
    op.execute("DROP FUNCTION IF EXISTS seqtrack_events_to_outbox()")
    op.execute(PER_ROW_FUNCTION)
    op.execute(PER_ROW_TRIGGER)
