"""Inspections, hazards and rectifications as the API answers them.

A list is presented a page at a time: what its answers show from other tables (photo flags,
photos awaited, the submission's stage, template versions, hazards found) is read in one
query per table for the whole page, never per record."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from fieldapi.checklists.models import ChecklistTemplate
from fieldapi.core.etag import make_etag
from fieldapi.fieldwork.models import Hazard, Inspection, PhotoWait, Rectification
from fieldapi.photos.models import PhotoUse
from fieldapi.review.models import Submission


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


def _of_subjects(type_column, id_column, wanted: dict[str, list[uuid.UUID]]):
    """Rows about any of the ``wanted`` subjects, as (subject type → ids)."""
    return or_(*(and_(type_column == kind, id_column.in_(ids)) for kind, ids in wanted.items()))


class _Around:
    """What the answers for a page of records show from elsewhere, read once for the page:
    each record's photo flags, the photos it waits for, and its submission's id and stage."""

    def __init__(self, db: Session, subject_type: str, records, flags_of=None) -> None:
        ids = [r.id for r in records]
        # Whose photo flags each record shows: its own, unless ``flags_of`` says otherwise.
        self.flags_of = flags_of or (lambda r: (subject_type, r.id))
        wanted: dict[str, list[uuid.UUID]] = {}
        for record in records:
            kind, subject_id = self.flags_of(record)
            if subject_id is not None:
                wanted.setdefault(kind, []).append(subject_id)
        self.flags: dict[tuple[str, uuid.UUID], dict[str, list[str]]] = defaultdict(dict)
        if wanted:
            u = PhotoUse
            uses = select(u.subject_type, u.subject_id, u.photo_id, u.flags).where(
                _of_subjects(u.subject_type, u.subject_id, wanted)
            )
            for kind, subject_id, photo_id, flags in db.execute(uses):
                self.flags[kind, subject_id][str(photo_id)] = list(flags)
        self.waits: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        self.submissions: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}
        if not ids:
            return
        w, s = PhotoWait, Submission
        waits = (
            select(w.subject_id, w.photo_id)
            .where(w.subject_type == subject_type, w.subject_id.in_(ids))
            .order_by(w.photo_id)
        )
        for subject_id, photo_id in db.execute(waits):
            self.waits[subject_id].append(photo_id)
        submissions = select(s.subject_id, s.id, s.stage).where(
            s.subject_type == subject_type, s.subject_id.in_(ids)
        )
        self.submissions = {
            subject_id: (i, stage) for subject_id, i, stage in db.execute(submissions)
        }

    def photo_flags(self, record, photo_ids) -> dict[str, list[str]]:
        flags = self.flags.get(self.flags_of(record), {})
        return {str(p): flags[str(p)] for p in photo_ids if str(p) in flags}

    def review(self, record) -> dict[str, Any]:
        submission_id, stage = self.submissions.get(record.id, (None, None))
        return {
            "submission_id": submission_id,
            "stage": stage,
            "waiting_for": self.waits.get(record.id, []),
        }


def present_inspections(db: Session, inspections: list[Inspection]) -> list[dict[str, Any]]:
    around = _Around(db, "inspection", inspections)
    ids = [i.id for i in inspections]
    versions: dict[uuid.UUID, int] = {}
    hazard_ids: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if ids:
        t = ChecklistTemplate
        used = {i.template_id for i in inspections}
        versions = dict(db.execute(select(t.id, t.version).where(t.id.in_(used))).all())
        found = (
            select(Hazard.inspection_id, Hazard.id)
            .where(Hazard.inspection_id.in_(ids))
            .order_by(Hazard.inspection_id, Hazard.item_code)
        )
        for inspection_id, hazard_id in db.execute(found):
            hazard_ids[inspection_id].append(hazard_id)
    return [
        {
            "id": inspection.id,
            "building_id": inspection.building_id,
            "kind": inspection.kind,
            "template_id": inspection.template_id,
            "template_version": versions[inspection.template_id],
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
                    "photo_flags": around.photo_flags(inspection, r.photo_ids),
                }
                for r in inspection.results
            ],
            "failed": [r.code for r in inspection.results if r.result == "fail"],
            "hazard_ids": hazard_ids.get(inspection.id, []),
            "created_at": inspection.created_at,
            "updated_at": inspection.updated_at,
            **around.review(inspection),
        }
        for inspection in inspections
    ]


def present_inspection(db: Session, inspection: Inspection) -> dict[str, Any]:
    return present_inspections(db, [inspection])[0]


def _hazard_photos(hazard: Hazard) -> tuple[str, uuid.UUID | None]:
    # A reported hazard has photos of its own; a failed item's are the inspection's.
    if hazard.source == "report":
        return "hazard", hazard.id
    return "inspection", hazard.inspection_id


def present_hazards(db: Session, hazards: list[Hazard]) -> list[dict[str, Any]]:
    around = _Around(db, "hazard", hazards, flags_of=_hazard_photos)
    return [
        {
            "id": hazard.id,
            "building_id": hazard.building_id,
            "source": hazard.source,
            "inspection_id": hazard.inspection_id,
            "item_code": hazard.item_code,
            "category": hazard.category,
            "severity": hazard.severity,
            "description": hazard.description,
            "photo_ids": [uuid.UUID(str(p)) for p in hazard.photo_ids],
            "photo_flags": around.photo_flags(hazard, hazard.photo_ids),
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
            **around.review(hazard),
        }
        for hazard in hazards
    ]


def present_hazard(db: Session, hazard: Hazard) -> dict[str, Any]:
    return present_hazards(db, [hazard])[0]


def present_rectifications(
    db: Session, rectifications: list[Rectification]
) -> list[dict[str, Any]]:
    around = _Around(db, "rectification", rectifications)
    return [
        {
            "id": r.id,
            "hazard_id": r.hazard_id,
            "building_id": r.building_id,
            "note": r.note,
            "photo_ids": [uuid.UUID(str(p)) for p in r.photo_ids],
            "photo_flags": around.photo_flags(r, r.photo_ids),
            "submitted_by": r.submitted_by,
            "status": r.status,
            "created_at": r.created_at,
            "updated_at": r.updated_at,
            **around.review(r),
        }
        for r in rectifications
    ]


def present_rectification(db: Session, rectification: Rectification) -> dict[str, Any]:
    return present_rectifications(db, [rectification])[0]
