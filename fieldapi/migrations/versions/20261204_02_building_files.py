"""buildings: each building file kept as its API answer, masked and whole

Revision ID: 20261204_02
Revises: 20261203_07
Create Date: 2026-12-04 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import fieldapi.core.db

revision = "20261204_02"
down_revision = "20261203_07"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "building_files",
        sa.Column("building_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fresh_until", fieldapi.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("masked", sa.Text(), nullable=False),
        sa.Column("whole", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["buildings.id"],
            name=op.f("fk_building_files_building_id_buildings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("building_id", name=op.f("pk_building_files")),
    )


def downgrade() -> None:
    op.drop_table("building_files")
