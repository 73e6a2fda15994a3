"""Checklist templates as sync sends them: the same for everyone, shaped in Python."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from fieldapi.checklists.models import ChecklistItem, ChecklistTemplate
from fieldapi.core.scope import Actor
from fieldapi.sync.reading import Entity
from fieldapi.sync.rows import Rows, chunks, one_of


def _template_columns() -> Select:
    t = ChecklistTemplate
    return select(t.id, t.use_type, t.version, t.name)


def _shape_templates(db: Session, _actor: Actor, rows: Rows) -> list[dict]:
    items: dict[uuid.UUID, list[dict]] = defaultdict(list)
    ids = [row.id for row in rows]
    i = ChecklistItem
    for chunk in chunks(ids):
        stmt = (
            select(i.template_id, i.code, i.label_zh, i.label_en, i.category, i.severity)
            .add_columns(i.photo_required)
            .where(one_of(db, i.template_id, chunk))
            .order_by(i.template_id, i.position)
        )
        for tid, code, zh, en, category, severity, photo in db.connection().execute(stmt):
            items[tid].append(
                {
                    "code": code,
                    "label": {"zh": zh, "en": en},
                    "category": category,
                    "severity": severity,
                    "photo_required": photo,
                }
            )
    return [
        {
            "id": r.id,
            "use_type": r.use_type,
            "version": r.version,
            "name": r.name,
            "items": items[r.id],
        }
        for r in rows
    ]


TEMPLATES = Entity("templates", ChecklistTemplate, None, _template_columns, _shape_templates, False)
