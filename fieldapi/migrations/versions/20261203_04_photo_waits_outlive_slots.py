"""photo waits outlive an expired upload slot

Revision ID: 20261203_04
Revises: 20261203_03
Create Date: 2026-12-03 06:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "20261203_04"
down_revision = "20261203_03"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("photo_waits", schema=None) as batch_op:
        batch_op.drop_constraint("fk_photo_waits_photo_id_photos", type_="foreignkey")


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM photo_waits WHERE photo_id NOT IN (SELECT id FROM photos)"))
    with op.batch_alter_table("photo_waits", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_photo_waits_photo_id_photos", "photos", ["photo_id"], ["id"], ondelete="CASCADE"
        )
