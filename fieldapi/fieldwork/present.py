"""Inspections, hazards and rectifications as the API answers them."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.checklists.models import ChecklistTemplate
from fieldapi.core.etag import make_etag
from fieldapi.fieldwork.evidence import photo_flags
from fieldapi.fieldwork.models import Hazard, Inspection, Rectification
from fieldapi.fieldwork.photo_waits import waiting_for
from fieldapi.review import service as review


def content_etag(kind: str, body: dict[str, Any]) -> str:
    """An ETag over what the answer says: it changes when anything shown changes, the
    record itself or what is derived from elsewhere (its review stage, flags, overdue)."""
    text = json.dumps(body, sort_keys=True, default=str, separators=(",", ":"))
    return make_etag(kind, hashlib.sha256(text.encode()).hexdigest(), 0)


def inspection_etag(db: Session, inspection: Inspection) -> str:
    return content_etag("inspection", present_inspection(db, inspection))


def hazard_etag(db: Session, hazard: Hazard) -> str:
    return content_etag("hazard", present_hazard(db, hazard))


def _location(obj) -> dict[str, float] | None:
    return {"lat": obj.lat, "lon": obj.lon} if obj.lat is not None else None


def _review(db: Session, subject_type: str, obj) -> dict[str, Any]:
    submission = review.submission_for(db, subject_type, obj.id)
    return {
        "submission_id": submission.id if submission else None,
        "stage": submission.stage if submission else None,
        "waiting_for": waiting_for(db, subject_type, obj.id),
    }


def present_inspection(db: Session, inspection: Inspection) -> dict[str, Any]:
    flags = photo_flags(db, "inspection", inspection.id)
    template = db.get(ChecklistTemplate, inspection.template_id)
    hazard_ids = db.scalars(
        select(Hazard.id).where(Hazard.inspection_id == inspection.id).order_by(Hazard.item_code)
    )
    return {
        "id": inspection.id,
        "building_id": inspection.building_id,
        "kind": inspection.kind,
        "template_id": inspection.template_id,
        "template_version": template.version,
        "inspector_id": inspection.inspector_id,
        "performed_at": inspection.performed_at,
        "location": _location(inspection),
        "note": inspection.note,
        "status": inspection.status,
        "submitted_at": inspection.submitted_at,
        "items": [
            {
                "code": r.code,
                "result": r.result,
                "note": r.note,
                "photo_ids": [uuid.UUID(str(p)) for p in r.photo_ids],
                "photo_flags": {str(p): flags[str(p)] for p in r.photo_ids if str(p) in flags},
            }
            for r in inspection.results
        ],
        "failed": [r.code for r in inspection.results if r.result == "fail"],
        "hazard_ids": list(hazard_ids),
        "created_at": inspection.created_at,
        "updated_at": inspection.updated_at,
        **_review(db, "inspection", inspection),
    }


def present_hazard(db: Session, hazard: Hazard) -> dict[str, Any]:
    # A reported hazard has photos of its own; a failed item's are the inspection's.
    if hazard.source == "report":
        flags = photo_flags(db, "hazard", hazard.id)
    else:
        flags = photo_flags(db, "inspection", hazard.inspection_id)
    return {
        "id": hazard.id,
        "building_id": hazard.building_id,
        "source": hazard.source,
        "inspection_id": hazard.inspection_id,
        "item_code": hazard.item_code,
        "category": hazard.category,
        "severity": hazard.severity,
        "description": hazard.description,
        "photo_ids": [uuid.UUID(str(p)) for p in hazard.photo_ids],
        "photo_flags": {str(p): flags[str(p)] for p in hazard.photo_ids if str(p) in flags},
        "location": _location(hazard),
        "reported_by": hazard.reported_by,
        "reported_at": hazard.reported_at,
        "due_at": hazard.due_at,
        "overdue": hazard.overdue,
        "status": hazard.status,
        "closed_at": hazard.closed_at,
        "created_at": hazard.created_at,
        "updated_at": hazard.updated_at,
        # A hazard found by an inspection is reviewed with it.
        **_review(db, "hazard", hazard),
    }


def present_rectification(db: Session, rectification: Rectification) -> dict[str, Any]:
    flags = photo_flags(db, "rectification", rectification.id)
    return {
        "id": rectification.id,
        "hazard_id": rectification.hazard_id,
        "building_id": rectification.building_id,
        "note": rectification.note,
        "photo_ids": [uuid.UUID(str(p)) for p in rectification.photo_ids],
        "photo_flags": {str(p): flags[str(p)] for p in rectification.photo_ids if str(p) in flags},
        "submitted_by": rectification.submitted_by,
        "status": rectification.status,
        "created_at": rectification.created_at,
        "updated_at": rectification.updated_at,
        **_review(db, "rectification", rectification),
    }
