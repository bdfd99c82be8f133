"""evidence requests: public campaigns and one-time links; submissions bound to them

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("title_es", sa.Text(), nullable=False),
        sa.Column("title_en", sa.Text(), nullable=False),
        sa.Column("description_es", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("place", sa.Text(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("radius_m", sa.Integer(), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("media_kinds", sa.JSON(), nullable=False),
        sa.Column("ask_contact", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recipient_salt", sa.String(length=32), nullable=True),
        sa.Column("recipient_commitment", sa.String(length=64), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_evidence_requests_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_requests")),
        sa.UniqueConstraint("code", name=op.f("uq_evidence_requests_code")),
    )
    with op.batch_alter_table("evidence_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_requests_case_id"), ["case_id"])
    # The free-text code nothing checked gives way to a reference to a real request.
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_submissions_request_id"), ["request_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_submissions_request_id_evidence_requests"),
            "evidence_requests",
            ["request_id"],
            ["id"],
        )
        batch_op.drop_column("request_code")


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_code", sa.String(length=64), nullable=True))
        batch_op.drop_constraint(
            batch_op.f("fk_submissions_request_id_evidence_requests"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_submissions_request_id"))
        batch_op.drop_column("request_id")
    with op.batch_alter_table("evidence_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_requests_case_id"))
    op.drop_table("evidence_requests")
