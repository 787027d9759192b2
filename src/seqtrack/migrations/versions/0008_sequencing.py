"""sequencing: instruments, flow cells, libraries, pools, runs, barcode results

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import seqtrack.platform.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sequencing_flow_cells",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("serial", sa.String(length=32), nullable=False),
        sa.Column("product_code", sa.String(length=32), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=True),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pore_count", sa.Integer(), nullable=True),
        sa.Column("checked_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("runs_started", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequencing_flow_cells")),
        sa.UniqueConstraint("tenant_id", "serial", name=op.f("uq_sequencing_flow_cells_tenant_id_serial")),
    )
    with op.batch_alter_table("sequencing_flow_cells", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sequencing_flow_cells_tenant_created", ["tenant_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_sequencing_flow_cells_tenant_state", ["tenant_id", "state", "id"], unique=False)

    op.create_table(
        "sequencing_instruments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequencing_instruments")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_sequencing_instruments_tenant_id_name")),
    )
    with op.batch_alter_table("sequencing_instruments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sequencing_instruments_tenant_created", ["tenant_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "sequencing_libraries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("kit", sa.String(length=32), nullable=False),
        sa.Column("barcode", sa.String(length=16), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequencing_libraries")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_sequencing_libraries_tenant_id_name")),
    )
    with op.batch_alter_table("sequencing_libraries", schema=None) as batch_op:
        batch_op.create_index("ix_sequencing_libraries_tenant_created", ["tenant_id", "created_at", "id"], unique=False)

    op.create_table(
        "sequencing_pools",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequencing_pools")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_sequencing_pools_tenant_id_name")),
    )
    with op.batch_alter_table("sequencing_pools", schema=None) as batch_op:
        batch_op.create_index("ix_sequencing_pools_tenant_created", ["tenant_id", "created_at", "id"], unique=False)

    op.create_table(
        "sequencing_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("warranty_pores", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_sequencing_settings")),
    )
    op.create_table(
        "sequencing_library_samples",
        sa.Column("library_id", sa.Uuid(), nullable=False),
        sa.Column("sample_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("sample_human_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["sequencing_libraries.id"],
            name=op.f("fk_sequencing_library_samples_library_id_sequencing_libraries"),
        ),
        sa.PrimaryKeyConstraint("library_id", "sample_id", name=op.f("pk_sequencing_library_samples")),
    )
    with op.batch_alter_table("sequencing_library_samples", schema=None) as batch_op:
        batch_op.create_index("ix_sequencing_library_samples_sample", ["tenant_id", "sample_id"], unique=False)

    op.create_table(
        "sequencing_pool_libraries",
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("library_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["sequencing_libraries.id"],
            name=op.f("fk_sequencing_pool_libraries_library_id_sequencing_libraries"),
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["sequencing_pools.id"], name=op.f("fk_sequencing_pool_libraries_pool_id_sequencing_pools")
        ),
        sa.PrimaryKeyConstraint("pool_id", "library_id", name=op.f("pk_sequencing_pool_libraries")),
    )
    with op.batch_alter_table("sequencing_pool_libraries", schema=None) as batch_op:
        batch_op.create_index("ix_sequencing_pool_libraries_library", ["library_id"], unique=False)

    op.create_table(
        "sequencing_runs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.String(length=40), nullable=False),
        sa.Column("instrument_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.String(length=8), nullable=False),
        sa.Column("flow_cell_id", sa.Uuid(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("basecalling_model", sa.String(length=128), nullable=True),
        sa.Column("run_length_hours", sa.Float(), nullable=False),
        sa.Column("min_read_length", sa.Integer(), nullable=False),
        sa.Column("started_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("results_imported_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", seqtrack.platform.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_cell_id"],
            ["sequencing_flow_cells.id"],
            name=op.f("fk_sequencing_runs_flow_cell_id_sequencing_flow_cells"),
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["sequencing_instruments.id"],
            name=op.f("fk_sequencing_runs_instrument_id_sequencing_instruments"),
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["sequencing_pools.id"], name=op.f("fk_sequencing_runs_pool_id_sequencing_pools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequencing_runs")),
        sa.UniqueConstraint("tenant_id", "experiment_id", name=op.f("uq_sequencing_runs_tenant_id_experiment_id")),
    )
    with op.batch_alter_table("sequencing_runs", schema=None) as batch_op:
        batch_op.create_index("ix_sequencing_runs_flow_cell", ["flow_cell_id"], unique=False)
        batch_op.create_index("ix_sequencing_runs_pool", ["pool_id"], unique=False)
        batch_op.create_index("ix_sequencing_runs_tenant_created", ["tenant_id", "created_at", "id"], unique=False)

    op.create_table(
        "sequencing_barcode_results",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("barcode", sa.String(length=32), nullable=False),
        sa.Column("library_id", sa.Uuid(), nullable=True),
        sa.Column("reads", sa.BigInteger(), nullable=False),
        sa.Column("bases", sa.BigInteger(), nullable=False),
        sa.Column("pass_reads", sa.BigInteger(), nullable=False),
        sa.Column("pass_bases", sa.BigInteger(), nullable=False),
        sa.Column("n50", sa.BigInteger(), nullable=False),
        sa.Column("mean_qscore", sa.Float(), nullable=False),
        sa.Column("pass_rate", sa.Float(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["sequencing_libraries.id"],
            name=op.f("fk_sequencing_barcode_results_library_id_sequencing_libraries"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sequencing_runs.id"], name=op.f("fk_sequencing_barcode_results_run_id_sequencing_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequencing_barcode_results")),
        sa.UniqueConstraint("run_id", "barcode", name=op.f("uq_sequencing_barcode_results_run_id_barcode")),
    )
    with op.batch_alter_table("sequencing_barcode_results", schema=None) as batch_op:
        batch_op.create_index("ix_sequencing_barcode_results_library", ["library_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sequencing_barcode_results", schema=None) as batch_op:
        batch_op.drop_index("ix_sequencing_barcode_results_library")

    op.drop_table("sequencing_barcode_results")
    with op.batch_alter_table("sequencing_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_sequencing_runs_tenant_created")
        batch_op.drop_index("ix_sequencing_runs_pool")
        batch_op.drop_index("ix_sequencing_runs_flow_cell")

    op.drop_table("sequencing_runs")
    with op.batch_alter_table("sequencing_pool_libraries", schema=None) as batch_op:
        batch_op.drop_index("ix_sequencing_pool_libraries_library")

    op.drop_table("sequencing_pool_libraries")
    with op.batch_alter_table("sequencing_library_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_sequencing_library_samples_sample")

    op.drop_table("sequencing_library_samples")
    op.drop_table("sequencing_settings")
    with op.batch_alter_table("sequencing_pools", schema=None) as batch_op:
        batch_op.drop_index("ix_sequencing_pools_tenant_created")

    op.drop_table("sequencing_pools")
    with op.batch_alter_table("sequencing_libraries", schema=None) as batch_op:
        batch_op.drop_index("ix_sequencing_libraries_tenant_created")

    op.drop_table("sequencing_libraries")
    with op.batch_alter_table("sequencing_instruments", schema=None) as batch_op:
        batch_op.drop_index("ix_sequencing_instruments_tenant_created")

    op.drop_table("sequencing_instruments")
    with op.batch_alter_table("sequencing_flow_cells", schema=None) as batch_op:
        batch_op.drop_index("ix_sequencing_flow_cells_tenant_state")
        batch_op.drop_index("ix_sequencing_flow_cells_tenant_created")

    op.drop_table("sequencing_flow_cells")
