"""personal data at rest: account, notification and submission e-mails encrypted, users found by a blind index

Revision ID: 0013
Revises: 0012

Existing addresses are encrypted in place with the installation's active key
(platform/crypto.py: the configured key set, else the key derived from the
secret key); the migration needs the same settings the application runs with.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from seqtrack.platform import crypto
from seqtrack.platform.migrations import migration_keyring

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENCRYPTED = (("users", "email"), ("notification_preferences", "email"), ("submissions", "notify_email"))


def upgrade() -> None:
    keyring = migration_keyring()
    connection = op.get_bind()
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_index", sa.String(length=64), nullable=True))
        batch_op.drop_constraint("uq_users_email", type_="unique")
        batch_op.alter_column("email", existing_type=sa.String(length=320), type_=sa.String(length=512))
    with op.batch_alter_table("notification_preferences", schema=None) as batch_op:
        batch_op.alter_column("email", existing_type=sa.String(length=320), type_=sa.String(length=512))
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.alter_column("notify_email", existing_type=sa.String(length=320), type_=sa.String(length=512))
    for table_name, column in ENCRYPTED:
        table = sa.table(table_name, sa.column("id", sa.Uuid()), sa.column(column, sa.String()))
        indexed = sa.table(table_name, sa.column("id", sa.Uuid()), sa.column("email_index", sa.String()))
        for row_id, value in list(connection.execute(sa.select(table.c.id, table.c[column]))):
            if value is None or crypto.is_token(value):
                continue
            connection.execute(sa.update(table).where(table.c.id == row_id).values({column: keyring.encrypt(value)}))
            if table_name == "users":
                connection.execute(
                    sa.update(indexed)
                    .where(indexed.c.id == row_id)
                    .values(email_index=keyring.blind_index(value.strip().lower()))
                )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("email_index", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_users_email_index"), ["email_index"])


def downgrade() -> None:
    keyring = migration_keyring()
    connection = op.get_bind()
    for table_name, column in ENCRYPTED:
        table = sa.table(table_name, sa.column("id", sa.Uuid()), sa.column(column, sa.String()))
        for row_id, value in list(connection.execute(sa.select(table.c.id, table.c[column]))):
            if value is not None and crypto.is_token(value):
                plain = keyring.decrypt(value)
                connection.execute(sa.update(table).where(table.c.id == row_id).values({column: plain}))
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.alter_column("notify_email", existing_type=sa.String(length=512), type_=sa.String(length=320))
    with op.batch_alter_table("notification_preferences", schema=None) as batch_op:
        batch_op.alter_column("email", existing_type=sa.String(length=512), type_=sa.String(length=320))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_email_index"), type_="unique")
        batch_op.drop_column("email_index")
        batch_op.alter_column("email", existing_type=sa.String(length=512), type_=sa.String(length=320))
        batch_op.create_unique_constraint("uq_users_email", ["email"])
