"""playbacks of review copies: a playback names the copy it serves (NULL: the original)

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("playbacks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("copy_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("playbacks", schema=None) as batch_op:
        batch_op.drop_column("copy_sha256")
