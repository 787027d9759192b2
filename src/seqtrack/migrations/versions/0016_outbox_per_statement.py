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

OUTBOX_COLUMNS = "outbox (event_id, tenant_id, created_at, attempts)"
PER_STATEMENT = (
    "seqtrack_events_to_outbox",
    f"INSERT INTO {OUTBOX_COLUMNS} SELECT id, tenant_id, occurred_at, 0 FROM new_events ORDER BY position",
    "REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT",
)
# As migration 0005 made it.
PER_ROW = (
    "seqtrack_event_to_outbox",
    f"INSERT INTO {OUTBOX_COLUMNS} VALUES (NEW.id, NEW.tenant_id, NEW.occurred_at, 0)",
    "FOR EACH ROW",
)


def upgrade() -> None:
    _replace_trigger(PER_ROW, PER_STATEMENT)


def downgrade() -> None:
    _replace_trigger(PER_STATEMENT, PER_ROW)


def _replace_trigger(old: tuple[str, str, str], new: tuple[str, str, str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    function, statement, when = new
    op.execute("DROP TRIGGER IF EXISTS events_to_outbox ON events")
    op.execute(f"DROP FUNCTION IF EXISTS {old[0]}()")
    op.execute(
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$ BEGIN {statement}; RETURN NULL; END; $$"
        " LANGUAGE plpgsql"
    )
    op.execute(f"CREATE TRIGGER events_to_outbox AFTER INSERT ON events {when} EXECUTE FUNCTION {function}()")
