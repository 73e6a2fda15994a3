"""Field work as sync sends it: inspections, hazards and rectifications, each with the
stage of its submission."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import Session, aliased

from fieldapi.core.scope import Actor
from fieldapi.fieldwork.models import Hazard, Inspection, Rectification
from fieldapi.review.models import Submission
from fieldapi.sync.pg_json import id_and_doc, json_location, json_object, unless_empty
from fieldapi.sync.reading import Entity
from fieldapi.sync.rows import Rows, fragment, location, raw_json


def _stage_join(stmt: Select, subject_type: str, model) -> Select:
    return stmt.outerjoin(
        Submission,
        and_(Submission.subject_type == subject_type, Submission.subject_id == model.id),
    )


def _with_stage(stmt: Select, subject_type: str, model, stage) -> Select:
    return stmt.outerjoin(
        stage, and_(stage.subject_type == subject_type, stage.subject_id == model.id)
    )


# --- inspections -------------------------------------------------------------------------


def _inspection_columns() -> Select:
    i = Inspection
    stmt = select(
        i.id,
        i.building_id,
        i.kind,
        i.template_id,
        i.inspector_id,
        i.performed_at,
        i.lat,
        i.lon,
        i.note,
        i.status,
        i.version,
        Submission.stage,
        raw_json(i.findings).label("findings"),
        raw_json(i.unchecked).label("unchecked"),
    )
    return _stage_join(stmt, "inspection", i)


def _shape_inspections(_db: Session, _actor: Actor, rows: Rows) -> list[dict]:
    # Only the results that say more than "passed" (a fail, a not-applicable, or a pass with
    # a note or photos): every other item of the template passed, unless listed as unchecked.
    out = []
    for row in rows:
        item = {
            "id": row.id,
            "building_id": row.building_id,
            "kind": row.kind,
            "template_id": row.template_id,
            "inspector_id": row.inspector_id,
            "performed_at": row.performed_at,
            "location": location(row.lat, row.lon),
            "note": row.note,
            "status": row.status,
            "version": row.version,
            "stage": row.stage,
            "results": fragment(row.findings),
        }
        if row.unchecked not in ("[]", None):
            item["unchecked"] = fragment(row.unchecked)
        out.append(item)
    return out


def _inspection_document(_actor: Actor, ids: ColumnElement) -> Select:
    i, stage = Inspection, aliased(Submission)
    doc = json_object(
        ("id", i.id, "id"),
        ("building_id", i.building_id, "id"),
        ("kind", i.kind, "text"),
        ("template_id", i.template_id, "id"),
        ("inspector_id", i.inspector_id, "id"),
        ("performed_at", i.performed_at, "time"),
        ("location", json_location(i), "raw"),
        ("note", i.note, "text"),
        ("status", i.status, "text"),
        ("version", i.version, "number"),
        ("stage", stage.stage, "text"),
        ("results", i.findings, "json"),
        ("unchecked", unless_empty(i.unchecked), "raw?"),
    )
    return _with_stage(id_and_doc(i, doc, ids).select_from(i), "inspection", i, stage)


INSPECTIONS = Entity(
    "inspections",
    Inspection,
    lambda: Inspection.building_id,
    _inspection_columns,
    _shape_inspections,
    document=_inspection_document,
)


# --- hazards -----------------------------------------------------------------------------


def _hazard_columns() -> Select:
    h = Hazard
    stmt = select(
        h.id,
        h.building_id,
        h.source,
        h.inspection_id,
        h.item_code,
        h.category,
        h.severity,
        h.description,
        raw_json(h.photo_ids).label("photo_ids"),
        h.lat,
        h.lon,
        h.reported_by,
        h.reported_at,
        h.due_at,
        h.status,
        h.closed_at,
        h.version,
        Submission.stage,
    )
    return _stage_join(stmt, "hazard", h)


def _shape_hazards(_db: Session, _actor: Actor, rows: Rows) -> list[dict]:
    return [
        {
            "id": r.id,
            "building_id": r.building_id,
            "source": r.source,
            "inspection_id": r.inspection_id,
            "item_code": r.item_code,
            "category": r.category,
            "severity": r.severity,
            "description": r.description,
            "photo_ids": fragment(r.photo_ids),
            "location": location(r.lat, r.lon),
            "reported_by": r.reported_by,
            "reported_at": r.reported_at,
            "due_at": r.due_at,
            "status": r.status,
            "closed_at": r.closed_at,
            "version": r.version,
            "stage": r.stage,
        }
        for r in rows
    ]


def _hazard_document(_actor: Actor, ids: ColumnElement) -> Select:
    h, stage = Hazard, aliased(Submission)
    doc = json_object(
        ("id", h.id, "id"),
        ("building_id", h.building_id, "id"),
        ("source", h.source, "text"),
        ("inspection_id", h.inspection_id, "id"),
        ("item_code", h.item_code, "text"),
        ("category", h.category, "text"),
        ("severity", h.severity, "text"),
        ("description", h.description, "text"),
        ("photo_ids", h.photo_ids, "json"),
        ("location", json_location(h), "raw"),
        ("reported_by", h.reported_by, "id"),
        ("reported_at", h.reported_at, "time"),
        ("due_at", h.due_at, "time"),
        ("status", h.status, "text"),
        ("closed_at", h.closed_at, "time"),
        ("version", h.version, "number"),
        ("stage", stage.stage, "text"),
    )
    return _with_stage(id_and_doc(h, doc, ids).select_from(h), "hazard", h, stage)


HAZARDS = Entity(
    "hazards",
    Hazard,
    lambda: Hazard.building_id,
    _hazard_columns,
    _shape_hazards,
    document=_hazard_document,
)


# --- rectifications ----------------------------------------------------------------------


def _rectification_columns() -> Select:
    r = Rectification
    stmt = select(
        r.id,
        r.building_id,
        r.hazard_id,
        r.note,
        raw_json(r.photo_ids).label("photo_ids"),
        r.submitted_by,
        r.status,
        r.created_at,
        r.version,
        Submission.stage,
    )
    return _stage_join(stmt, "rectification", r)


def _shape_rectifications(_db: Session, _actor: Actor, rows: Rows) -> list[dict]:
    return [
        {
            "id": r.id,
            "hazard_id": r.hazard_id,
            "note": r.note,
            "photo_ids": fragment(r.photo_ids),
            "submitted_by": r.submitted_by,
            "status": r.status,
            "created_at": r.created_at,
            "version": r.version,
            "stage": r.stage,
        }
        for r in rows
    ]


def _rectification_document(_actor: Actor, ids: ColumnElement) -> Select:
    r, stage = Rectification, aliased(Submission)
    doc = json_object(
        ("id", r.id, "id"),
        ("hazard_id", r.hazard_id, "id"),
        ("note", r.note, "text"),
        ("photo_ids", r.photo_ids, "json"),
        ("submitted_by", r.submitted_by, "id"),
        ("status", r.status, "text"),
        ("created_at", r.created_at, "time"),
        ("version", r.version, "number"),
        ("stage", stage.stage, "text"),
    )
    return _with_stage(id_and_doc(r, doc, ids).select_from(r), "rectification", r, stage)


RECTIFICATIONS = Entity(
    "rectifications",
    Rectification,
    lambda: Rectification.building_id,
    _rectification_columns,
    _shape_rectifications,
    document=_rectification_document,
)
