"""Checklist templates. Admins save new versions; every role reads them (no building data)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from fieldapi.audit import service as audit
from fieldapi.checklists.models import ChecklistItem, ChecklistTemplate
from fieldapi.core.etag import make_etag
from fieldapi.core.pagination import paginate
from fieldapi.core.problems import NotFound
from fieldapi.core.scope import Actor


def template_etag(template: ChecklistTemplate, current: bool) -> str:
    # The items never change; whether this version is still the current one does.
    return make_etag("checklist_template", template.id, 1 if current else 0)


def _latest_versions(db: Session, use_types: set[str]) -> dict[str, int]:
    rows = db.execute(
        select(ChecklistTemplate.use_type, func.max(ChecklistTemplate.version))
        .where(ChecklistTemplate.use_type.in_(use_types))
        .group_by(ChecklistTemplate.use_type)
    )
    return dict(rows.all())


def present(template: ChecklistTemplate, current: bool) -> dict[str, Any]:
    """The template as the phone reads it."""
    return {
        "id": template.id,
        "use_type": template.use_type,
        "version": template.version,
        "name": template.name,
        "current": current,
        "created_by": template.created_by,
        "created_at": template.created_at,
        "items": [
            {
                "code": item.code,
                "label": {"zh": item.label_zh, "en": item.label_en},
                "category": item.category,
                "severity": item.severity,
                "photo_required": item.photo_required,
            }
            for item in template.items
        ],
    }


def get_template(*, db: Session, template_id: uuid.UUID) -> tuple[ChecklistTemplate, bool]:
    """One version, and whether it is the current one for its use type."""
    template = db.get(ChecklistTemplate, template_id)
    if template is None:
        raise NotFound()
    latest = _latest_versions(db, {template.use_type})
    return template, latest[template.use_type] == template.version


def current_template(*, db: Session, use_type: str) -> ChecklistTemplate | None:
    """The highest version for ``use_type``: the one new inspections use."""
    return db.scalar(
        select(ChecklistTemplate)
        .where(ChecklistTemplate.use_type == use_type)
        .order_by(ChecklistTemplate.version.desc())
        .limit(1)
    )


def list_templates(
    *,
    db: Session,
    use_type: str | None,
    all_versions: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[tuple[ChecklistTemplate, bool]], str | None]:
    """Templates by use type then version; only the current version of each unless asked."""
    stmt = select(ChecklistTemplate)
    if use_type:
        stmt = stmt.where(ChecklistTemplate.use_type == use_type)
    if not all_versions:
        newer = aliased(ChecklistTemplate)
        stmt = stmt.where(
            ~select(newer.id)
            .where(
                newer.use_type == ChecklistTemplate.use_type,
                newer.version > ChecklistTemplate.version,
            )
            .exists()
        )
    rows, next_cursor = paginate(
        db,
        stmt,
        order_by=[ChecklistTemplate.use_type, ChecklistTemplate.version],
        key=lambda t: [t.use_type, t.version],
        parse=[str, int],
        limit=limit,
        cursor=cursor,
    )
    latest = _latest_versions(db, {t.use_type for t in rows}) if rows else {}
    return [(t, latest[t.use_type] == t.version) for t in rows], next_cursor


def create_template(*, db: Session, actor: Actor | None, data: dict[str, Any]) -> ChecklistTemplate:
    """Save the next version of the template for ``data["use_type"]``.

    Two admins saving at the same moment collide on (use_type, version): one answers 409.
    """
    use_type = data["use_type"]
    previous = db.scalar(
        select(func.max(ChecklistTemplate.version)).where(ChecklistTemplate.use_type == use_type)
    )
    template = ChecklistTemplate(
        id=uuid.uuid4(),
        use_type=use_type,
        version=(previous or 0) + 1,
        name=data["name"],
        created_by=actor.user_id if actor else None,
        items=[
            ChecklistItem(
                position=position,
                code=item["code"],
                label_zh=item["label"]["zh"],
                label_en=item["label"]["en"],
                category=item["category"],
                severity=item["severity"],
                photo_required=item["photo_required"],
            )
            for position, item in enumerate(data["items"], start=1)
        ],
    )
    db.add(template)
    db.flush()
    details = {
        "use_type": use_type,
        "version": template.version,
        "name": template.name,
        "items": data["items"],
    }
    audit.record(
        db,
        actor=actor,
        action="template.create",
        object_type="checklist_template",
        object_id=template.id,
        details=details,
    )
    return template
