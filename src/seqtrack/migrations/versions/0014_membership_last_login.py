"""per-facility activity: each membership keeps its own last log-in

Revision ID: 0014
Revises: 0013

An account shared by facilities showed every facility's admin its last log-in
anywhere. Each membership now records the last log-in (or switch) into its own
facility; it starts empty, since the account-wide time does not say where.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import seqtrack.platform.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_login_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("last_login_at")
