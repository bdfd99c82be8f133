"""redactions: redacted copies with their provenance; jobs may be several per item and kind

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("target", sa.String(32), nullable=False, server_default=""))
        batch.drop_constraint("uq_jobs_evidence_kind", type_="unique")
        batch.create_unique_constraint(
            "uq_jobs_evidence_kind_target", ["evidence_id", "kind", "target"]
        )
    op.create_table(
        "redactions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("evidence_id", sa.String(32), sa.ForeignKey("evidence.id"), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("operations", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(100), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("output_key", sa.Text(), nullable=True),
        sa.Column("output_sha256", sa.String(64), nullable=True),
        sa.Column("output_size", sa.BigInteger(), nullable=True),
        sa.Column("provenance", sa.JSON(), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(100), nullable=True),
    )
    op.create_index("ix_redactions_evidence_id", "redactions", ["evidence_id"])
    op.create_index("ix_redactions_state", "redactions", ["state"])


def downgrade() -> None:
    op.drop_index("ix_redactions_state", table_name="redactions")
    op.drop_index("ix_redactions_evidence_id", table_name="redactions")
    op.drop_table("redactions")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint("uq_jobs_evidence_kind_target", type_="unique")
        batch.create_unique_constraint("uq_jobs_evidence_kind", ["evidence_id", "kind"])
        batch.drop_column("target")
