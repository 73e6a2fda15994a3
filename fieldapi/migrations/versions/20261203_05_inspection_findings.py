"""inspections keep their findings and unchecked codes

Revision ID: 20261203_05
Revises: 20261203_04
Create Date: 2026-12-03 08:40:00.000000
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

import fieldapi.core.db

revision = "20261203_05"
down_revision = "20261203_04"
branch_labels = None
depends_on = None

BATCH = 2000

inspections = sa.table(
    "inspections",
    sa.column("id", sa.Uuid()),
    sa.column("template_id", sa.Uuid()),
    sa.column("findings", fieldapi.core.db.JSONDocument()),
    sa.column("unchecked", fieldapi.core.db.JSONDocument()),
)
results = sa.table(
    "inspection_results",
    sa.column("inspection_id", sa.Uuid()),
    sa.column("position", sa.Integer()),
    sa.column("code", sa.String()),
    sa.column("result", sa.String()),
    sa.column("note", sa.Text()),
    sa.column("photo_ids", fieldapi.core.db.JSONDocument()),
)
items = sa.table(
    "checklist_items",
    sa.column("template_id", sa.Uuid()),
    sa.column("position", sa.Integer()),
    sa.column("code", sa.String()),
)


def _finding(code, result, note, photo_ids):
    if result == "pass" and note is None and not photo_ids:
        return None
    entry = {"code": code, "result": result}
    if note is not None:
        entry["note"] = note
    if photo_ids:
        entry["photo_ids"] = [str(p) for p in photo_ids]
    return entry


def _backfill(conn) -> None:
    codes = defaultdict(list)
    for template_id, code in conn.execute(
        sa.select(items.c.template_id, items.c.code).order_by(items.c.template_id, items.c.position)
    ):
        codes[template_id].append(code)
    after = None
    while True:
        stmt = sa.select(inspections.c.id, inspections.c.template_id).order_by(inspections.c.id)
        if after is not None:
            stmt = stmt.where(inspections.c.id > after)
        batch = conn.execute(stmt.limit(BATCH)).all()
        if not batch:
            return
        found = defaultdict(list)
        have = defaultdict(set)
        rows = conn.execute(
            sa.select(
                results.c.inspection_id,
                results.c.code,
                results.c.result,
                results.c.note,
                results.c.photo_ids,
            )
            .where(results.c.inspection_id.in_([row.id for row in batch]))
            .order_by(results.c.inspection_id, results.c.position)
        )
        for inspection_id, code, result, note, photo_ids in rows:
            have[inspection_id].add(code)
            if (entry := _finding(code, result, note, photo_ids)) is not None:
                found[inspection_id].append(entry)
        update = (
            inspections.update()
            .where(inspections.c.id == sa.bindparam("inspection_id"))
            .values(findings=sa.bindparam("kept"), unchecked=sa.bindparam("missing"))
        )
        values = []
        for row in batch:
            missing = [c for c in codes[row.template_id] if c not in have[row.id]]
            values.append({"inspection_id": row.id, "kept": found[row.id], "missing": missing})
        conn.execute(update, values)
        after = batch[-1].id


def upgrade() -> None:
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("findings", fieldapi.core.db.JSONDocument(), nullable=True))
        batch_op.add_column(sa.Column("unchecked", fieldapi.core.db.JSONDocument(), nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        for name in ("findings", "unchecked"):
            batch_op.alter_column(
                name, existing_type=fieldapi.core.db.JSONDocument(), nullable=False
            )


def downgrade() -> None:
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.drop_column("unchecked")
        batch_op.drop_column("findings")
