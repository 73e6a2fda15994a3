"""sync: stored documents of inspections, hazards, rectifications and submissions

Revision ID: 20261203_06
Revises: 20261203_05
Create Date: 2026-12-03 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "20261203_06"
down_revision = "20261203_05"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_documents",
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.Uuid(), nullable=False),
        sa.Column("building_id", sa.Uuid(), nullable=False),
        sa.Column("shape", sa.Integer(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["buildings.id"],
            name=op.f("fk_sync_documents_building_id_buildings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entity", "object_id", name=op.f("pk_sync_documents")),
    )
    with op.batch_alter_table("sync_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_documents_building_id"), ["building_id"], unique=False
        )
    # Documents of what exists already are built by ``flask db upgrade`` once every
    # migration has run (``fieldapi.sync.documents.fill``): they are built by the code.


def downgrade() -> None:
    with op.batch_alter_table("sync_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_documents_building_id"))
    op.drop_table("sync_documents")
