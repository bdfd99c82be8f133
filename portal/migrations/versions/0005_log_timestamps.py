"""RFC 3161 timestamps of signed checkpoints

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_timestamps",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=False),
        sa.Column("gen_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tsa_url", sa.String(length=512), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_log_timestamps")),
    )


def downgrade() -> None:
    op.drop_table("log_timestamps")
