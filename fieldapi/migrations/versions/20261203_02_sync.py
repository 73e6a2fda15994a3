"""sync: change log and the scopes cursors were issued for

Revision ID: 20261203_02
Revises: 20261203_01
Create Date: 2026-12-03 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import fieldapi.core.db

revision = "20261203_02"
down_revision = "20261203_01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_changes",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.Uuid(), nullable=False),
        sa.Column("building_id", sa.Uuid(), nullable=True),
        sa.Column("grid_id", sa.Uuid(), nullable=True),
        sa.Column("at", fieldapi.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_sync_changes")),
    )
    op.create_table(
        "sync_scopes",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ids", fieldapi.core.db.JSONDocument(), nullable=False),
        sa.Column("created_at", fieldapi.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sync_scopes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "digest", name=op.f("pk_sync_scopes")),
    )


def downgrade() -> None:
    op.drop_table("sync_scopes")
    op.drop_table("sync_changes")
