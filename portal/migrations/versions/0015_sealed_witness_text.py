"""submissions, evidence: sealed incident text and device metadata

Revision ID: 0015
Revises: 0014

Only the columns: the key that seals lives outside the database, so the plaintext already
stored is sealed by the portal at its next start (portal.flows.witness_data).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("incident_encrypted", sa.LargeBinary(), nullable=True))
    op.add_column("evidence", sa.Column("device_sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("device_sealed")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("incident_encrypted")
