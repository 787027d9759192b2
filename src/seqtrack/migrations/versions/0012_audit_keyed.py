"""audit chain keyed and bound to events; the trail refuses TRUNCATE, and UPDATE/DELETE on SQLite too

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_TABLES = ("audit_entries", "events")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    present = {
        table: {column["name"] for column in inspector.get_columns(table)}
        for table in ("audit_entries", "audit_chain_heads")
    }
    # A downgrade keeps these columns (see below), so a second upgrade finds them in place.
    if "hash_version" not in present["audit_entries"]:
        with op.batch_alter_table("audit_entries", schema=None) as batch_op:
            # Entries already written stay version 1 (plain SHA-256) and verify as before.
            batch_op.add_column(sa.Column("hash_version", sa.Integer(), server_default="1", nullable=False))
            batch_op.add_column(sa.Column("event_digest", sa.String(length=64), nullable=True))
    if "signature" not in present["audit_chain_heads"]:
        with op.batch_alter_table("audit_chain_heads", schema=None) as batch_op:
            batch_op.add_column(sa.Column("signature", sa.String(length=64), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        # Row triggers (0001) do not fire for TRUNCATE; a statement trigger does.
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION seqtrack_forbid_change()"
            )
    else:
        # SQLite has no TRUNCATE; UPDATE and DELETE are refused as PostgreSQL refuses them.
        for table in APPEND_ONLY_TABLES:
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_append_only_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); END"
                )


def downgrade() -> None:
    # The columns stay: entries sealed with the key cannot be verified without their version
    # and event digest, and older code ignores columns it does not know.
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    else:
        for table in APPEND_ONLY_TABLES:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_{operation}")
