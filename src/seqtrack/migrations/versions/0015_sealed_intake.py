"""sealed intake: a submission's details stored as one encrypted document

Revision ID: 0015
Revises: 0014

The details (a form's header block, with the lines each answer was read from) hold the
submitter's address and phone. The column becomes text holding the sealed JSON, and the
details already stored are sealed in place with the installation's active key. Rows'
personal cells and kept files stored before this revision stay readable as they are:
``seqtrack keys rotate`` seals them.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from seqtrack.platform import crypto
from seqtrack.platform.migrations import migration_keyring

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DETAILS = sa.table("submissions", sa.column("id", sa.Uuid()), sa.column("details", sa.Text()))


def upgrade() -> None:
    keyring = migration_keyring()
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.alter_column("details", existing_type=sa.JSON(), type_=sa.Text(), postgresql_using="details::text")
    connection = op.get_bind()
    for row_id, value in list(connection.execute(sa.select(_DETAILS.c.id, _DETAILS.c.details))):
        if value is not None and not crypto.is_token(value):
            connection.execute(
                sa.update(_DETAILS).where(_DETAILS.c.id == row_id).values(details=keyring.encrypt(value))
            )


def downgrade() -> None:
    keyring = migration_keyring()
    connection = op.get_bind()
    for row_id, value in list(connection.execute(sa.select(_DETAILS.c.id, _DETAILS.c.details))):
        if value is not None and crypto.is_token(value):
            plain = json.dumps(json.loads(keyring.decrypt(value)))
            connection.execute(sa.update(_DETAILS).where(_DETAILS.c.id == row_id).values(details=plain))
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.alter_column("details", existing_type=sa.Text(), type_=sa.JSON(), postgresql_using="details::json")
