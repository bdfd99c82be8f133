"""auth: TOTP secrets sealed with the contact key

The key lives outside the database, so this only makes room: the rows still in the clear
are sealed, and their clear column emptied, when the portal starts
(portal.auth.mfa.seal_plain_secrets, idempotent).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_second_factors") as batch:
        batch.add_column(sa.Column("secret_sealed", sa.LargeBinary(), nullable=True))
        batch.alter_column("secret", existing_type=sa.String(length=64), nullable=True)


def downgrade() -> None:
    # Sealed secrets cannot be opened here (the key is not in the database); dropping those
    # factors would let a password alone enrol a new one, so refuse instead.
    sealed = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM staff_second_factors WHERE secret IS NULL")
    )
    if sealed:
        raise RuntimeError(f"{sealed} second factors are sealed; an older portal cannot read them")
    with op.batch_alter_table("staff_second_factors") as batch:
        batch.alter_column("secret", existing_type=sa.String(length=64), nullable=False)
        batch.drop_column("secret_sealed")
