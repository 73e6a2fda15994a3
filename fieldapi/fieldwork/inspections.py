"""Inspections read, and written as drafts: created against a checklist template (a
retried create answers the stored one), and changed while a draft or returned."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building
from fieldapi.checklists.models import ChecklistTemplate
from fieldapi.checklists.service import current_template
from fieldapi.core import scope
from fieldapi.core.db import created_once, utcnow
from fieldapi.core.etag import require_match
from fieldapi.core.pagination import paginate
from fieldapi.core.problems import Conflict, Forbidden, NotFound, ValidationFailed
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.evidence import photos_named
from fieldapi.fieldwork.models import Inspection, InspectionResult
from fieldapi.fieldwork.photo_waits import stop_waiting
from fieldapi.fieldwork.present import inspection_etag
from fieldapi.fieldwork.records import audit_event, audit_safe, building_for_write, same_content
from fieldapi.review import service as review
from fieldapi.review.models import Submission

# Which roles do which kind of inspection.
KIND_ROLES = {
    "self_check": frozenset({"building_manager"}),
    "patrol": frozenset({"officer", "grid_staff"}),
    "verification": frozenset({"grid_staff", "fire_office", "fire_police"}),
}


def get_inspection(*, db: Session, actor: Actor, inspection_id: uuid.UUID) -> Inspection:
    inspection = db.scalar(scope.scoped(actor, Inspection).where(Inspection.id == inspection_id))
    if inspection is None:
        raise NotFound()
    return inspection


def list_inspections(
    *, db: Session, actor: Actor, filters: dict[str, Any], limit: int, cursor: str | None
) -> tuple[list[Inspection], str | None]:
    stmt = scope.scoped(actor, Inspection)
    for name in ("building_id", "kind", "status"):
        if filters.get(name):
            stmt = stmt.where(getattr(Inspection, name) == filters[name])
    if filters.get("mine"):
        stmt = stmt.where(Inspection.inspector_id == actor.user_id)
    return paginate(
        db,
        stmt,
        order_by=[Inspection.performed_at, Inspection.id],
        key=lambda i: [i.performed_at.isoformat(), i.id],
        parse=[datetime.fromisoformat, uuid.UUID],
        limit=limit,
        cursor=cursor,
        descending=True,
    )


def _template_for(
    db: Session, building: Building, template_id: uuid.UUID | None
) -> ChecklistTemplate:
    if template_id is None:
        template = current_template(db=db, use_type=building.use_type)
        if template is None:
            raise Conflict(
                f"There is no checklist template for {building.use_type} buildings yet; "
                "an administrator publishes one."
            )
        return template
    template = db.get(ChecklistTemplate, template_id)
    if template is None or template.use_type != building.use_type:
        raise ValidationFailed.field(
            "/template_id", f"No checklist template for {building.use_type} buildings has this id."
        )
    return template


def _check_items(template: ChecklistTemplate, items: list[dict[str, Any]]) -> None:
    codes = {item.code for item in template.items}
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item["code"] not in codes:
            raise ValidationFailed.field(
                f"/items/{index}/code", "This code is not on the inspection's checklist."
            )
        if item["code"] in seen:
            raise ValidationFailed.field(f"/items/{index}/code", "This item is listed twice.")
        seen.add(item["code"])


def named_photos(items: list[dict[str, Any]]) -> list[tuple[str, uuid.UUID]]:
    return [
        (f"/items/{index}/photo_ids/{n}", photo_id)
        for index, item in enumerate(items)
        for n, photo_id in enumerate(item.get("photo_ids") or ())
    ]


def _inspection_content(inspection: Inspection) -> dict[str, Any]:
    return {
        "building_id": inspection.building_id,
        "kind": inspection.kind,
        "template_id": inspection.template_id,
        "performed_at": inspection.performed_at,
        "location": (
            {"lat": inspection.lat, "lon": inspection.lon} if inspection.lat is not None else None
        ),
        "note": inspection.note,
        "items": results_as_sent(inspection),
    }


def results_as_sent(inspection: Inspection) -> list[dict[str, Any]]:
    return [
        {
            "code": r.code,
            "result": r.result,
            "note": r.note,
            "photo_ids": [uuid.UUID(str(p)) for p in r.photo_ids],
        }
        for r in inspection.results
    ]


def _normal_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "code": item["code"],
            "result": item["result"],
            "note": item.get("note"),
            "photo_ids": list(item.get("photo_ids") or []),
        }
        for item in items
    ]


def _set_results(
    inspection: Inspection, template: ChecklistTemplate, items: list[dict[str, Any]]
) -> None:
    results = [
        InspectionResult(
            position=position,
            code=item["code"],
            result=item["result"],
            note=item.get("note"),
            photo_ids=[str(p) for p in item.get("photo_ids") or ()],
        )
        for position, item in enumerate(items, start=1)
    ]
    inspection.set_results(results, [item.code for item in template.items])


@created_once(Inspection)
def open_inspection(*, db: Session, actor: Actor, data: dict[str, Any]) -> tuple[Inspection, bool]:
    """Save a draft inspection; True when new. A retried create with the same id and the
    same content answers the stored one; other content under that id is a conflict."""
    existing = db.get(Inspection, data["id"])
    if existing is not None:
        visible = db.scalar(scope.scoped(actor, Inspection).where(Inspection.id == existing.id))
        sent = {**data, "items": _normal_items(data["items"])}
        sent.pop("id")
        if "template_id" not in sent or sent["template_id"] is None:
            sent.pop("template_id", None)
        if visible is not None and same_content(_inspection_content(existing), sent):
            return existing, False
        raise Conflict(
            "This id is already used by another inspection.",
            errors=[{"pointer": "/id", "detail": "Already used."}],
        )
    building = building_for_write(db, actor, data["building_id"])
    if actor.role not in KIND_ROLES[data["kind"]]:
        raise Forbidden(f"A {data['kind'].replace('_', ' ')} is not done by your role.")
    template = _template_for(db, building, data.get("template_id"))
    _check_items(template, data["items"])
    photos_named(db, actor, named_photos(data["items"]))
    location = data.get("location")
    inspection = Inspection(
        id=data["id"],
        building_id=building.id,
        kind=data["kind"],
        template_id=template.id,
        inspector_id=actor.user_id,
        performed_at=data["performed_at"],
        lat=location["lat"] if location else None,
        lon=location["lon"] if location else None,
        note=data.get("note"),
        status="draft",
    )
    _set_results(inspection, template, data["items"])
    db.add(inspection)
    db.flush()
    audit_event(
        db, actor, "inspection.create", inspection, "inspection", _jsonable_content(inspection)
    )
    return inspection, True


def _jsonable_content(inspection: Inspection) -> dict[str, Any]:
    content = _inspection_content(inspection)
    return audit_safe(content)


def _editable(db: Session, actor: Actor, inspection: Inspection) -> Submission | None:
    if inspection.inspector_id != actor.user_id:
        raise Forbidden("Only the inspector changes or submits an inspection.")
    submission = review.submission_for(db, "inspection", inspection.id)
    in_review = submission is not None and submission.stage != "returned"
    if inspection.status == "submitted" and in_review:
        raise Conflict(f"This inspection is in review ({submission.stage}); it cannot change.")
    return submission


def update_inspection(
    *,
    db: Session,
    actor: Actor,
    inspection_id: uuid.UUID,
    data: dict[str, Any],
    if_match: str | None,
) -> Inspection:
    """Change a draft, or an inspection returned to its inspector (If-Match required)."""
    inspection = get_inspection(db=db, actor=actor, inspection_id=inspection_id)
    require_match(if_match, inspection_etag(db, inspection))
    _editable(db, actor, inspection)
    template = db.get(ChecklistTemplate, inspection.template_id)
    if "items" in data:
        _check_items(template, data["items"])
        photos_named(db, actor, named_photos(data["items"]))
        _set_results(inspection, template, data["items"])
    if "performed_at" in data:
        inspection.performed_at = data["performed_at"]
    if "location" in data:
        location = data["location"]
        inspection.lat = location["lat"] if location else None
        inspection.lon = location["lon"] if location else None
    if "note" in data:
        inspection.note = data["note"]
    if inspection.status == "waiting_photos":
        # Changed while waiting: it waits for nothing until it is submitted again.
        stop_waiting(db, "inspection", inspection.id)
        inspection.status = "draft"
    inspection.updated_at = utcnow()
    db.flush()
    audit_event(
        db, actor, "inspection.update", inspection, "inspection", _jsonable_content(inspection)
    )
    return inspection
