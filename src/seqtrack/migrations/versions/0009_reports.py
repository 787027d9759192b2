"""indexes for the facility reports: receipts, deliveries and QC by time; states, priorities and due times by lab

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_samples_tenant_received", "samples", ["tenant_id", "received_at"])
    op.create_index("ix_samples_tenant_delivered", "samples", ["tenant_id", "delivered_at"])
    op.create_index("ix_sample_qc_tenant_measured", "sample_qc", ["tenant_id", "measured_at"])
    op.create_index("ix_samples_tenant_state_due", "samples", ["tenant_id", "status", "priority", "due_at"])
    op.create_index(
        "ix_samples_tenant_lab_state_due", "samples", ["tenant_id", "lab_id", "status", "priority", "due_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_samples_tenant_lab_state_due", table_name="samples")
    op.drop_index("ix_samples_tenant_state_due", table_name="samples")
    op.drop_index("ix_sample_qc_tenant_measured", table_name="sample_qc")
    op.drop_index("ix_samples_tenant_delivered", table_name="samples")
    op.drop_index("ix_samples_tenant_received", table_name="samples")
