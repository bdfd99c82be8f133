"""shares: cases or chosen items opened to a named prosecutor or defence lawyer

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shares",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("evidence_ids", sa.JSON(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("can_download", sa.Boolean(), nullable=False),
        sa.Column("watermark", sa.Boolean(), nullable=False),
        sa.Column("include_identity", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("session_hash", sa.String(length=64), nullable=True),
        sa.Column("failed_codes", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_shares_case_id"), "shares", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_shares_case_id"), table_name="shares")
    op.drop_table("shares")
