"""uploads, evidence: the salt of each file name's commitment in the custody log

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows from before keep NULL: their events already hold the name in clear (the log is
    # never rewritten), and receipts and bundles show those names as the events do.
    for table in ("uploads", "evidence"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("name_salt", sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in ("uploads", "evidence"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("name_salt")
