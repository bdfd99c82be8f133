"""auth: passkeys (WebAuthn credentials) and their waiting challenges

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_passkeys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credential_id"),
    )
    op.create_index(op.f("ix_staff_passkeys_user_id"), "staff_passkeys", ["user_id"])
    op.create_table(
        "staff_passkey_challenges",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_staff_passkey_challenges_expires_at"), "staff_passkey_challenges", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_staff_passkey_challenges_expires_at"), table_name="staff_passkey_challenges"
    )
    op.drop_table("staff_passkey_challenges")
    op.drop_index(op.f("ix_staff_passkeys_user_id"), table_name="staff_passkeys")
    op.drop_table("staff_passkeys")
