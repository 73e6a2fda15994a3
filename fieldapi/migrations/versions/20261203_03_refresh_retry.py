"""refresh token retry: session generations

Revision ID: 20261203_03
Revises: 20261203_02
Create Date: 2026-12-03 06:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "20261203_03"
down_revision = "20261203_02"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("auth_sessions") as batch:
        batch.add_column(sa.Column("generation", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("previous_jti", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("newest_used", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("auth_sessions") as batch:
        batch.drop_column("newest_used")
        batch.drop_column("previous_jti")
        batch.drop_column("generation")
