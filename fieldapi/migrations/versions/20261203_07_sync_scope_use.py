"""sync: when each stored scope was last used, so that unused ones can be pruned

Revision ID: 20261203_07
Revises: 20261203_06
Create Date: 2026-12-03 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import fieldapi.core.db

revision = "20261203_07"
down_revision = "20261203_06"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_scopes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("used_at", fieldapi.core.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE sync_scopes SET used_at = created_at")
    with op.batch_alter_table("sync_scopes", schema=None) as batch_op:
        batch_op.alter_column(
            "used_at",
            existing_type=fieldapi.core.db.UTCDateTime(timezone=True),
            nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_scopes", schema=None) as batch_op:
        batch_op.drop_column("used_at")
