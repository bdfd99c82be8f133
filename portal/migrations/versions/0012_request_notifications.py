"""requests: who is notified of new arrivals (a webhook URL, an email address)

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_requests") as batch:
        batch.add_column(sa.Column("notify_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("notify_email", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence_requests") as batch:
        batch.drop_column("notify_email")
        batch.drop_column("notify_url")
