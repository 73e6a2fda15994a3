"""The safety checklist of one building (一楼一档): every inspection, hazard, rectification and
review decision, newest first, as one paged timeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import literal, select, tuple_, union_all
from sqlalchemy.orm import Session

from fieldapi.buildings.service import get_building
from fieldapi.core.pagination import decode_cursor, encode_cursor
from fieldapi.core.problems import Problem
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.models import Hazard, Inspection, Rectification
from fieldapi.review.models import Submission, SubmissionEvent

KINDS = ("inspection", "hazard", "rectification", "decision")


def timeline(
    *, db: Session, actor: Actor, building_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    building = get_building(db=db, actor=actor, building_id=building_id)
    entries = union_all(
        select(
            literal("inspection").label("kind"),
            Inspection.id.label("ref_id"),
            Inspection.performed_at.label("at"),
        ).where(Inspection.building_id == building.id, Inspection.status != "draft"),
        select(literal("hazard"), Hazard.id, Hazard.reported_at).where(
            Hazard.building_id == building.id
        ),
        select(literal("rectification"), Rectification.id, Rectification.created_at).where(
            Rectification.building_id == building.id
        ),
        select(literal("decision"), SubmissionEvent.id, SubmissionEvent.at)
        .join(Submission, Submission.id == SubmissionEvent.submission_id)
        .where(Submission.building_id == building.id),
    ).subquery("entries")
    key = (entries.c.at, entries.c.kind, entries.c.ref_id)
    stmt = select(entries)
    if cursor:
        raw = decode_cursor(cursor, 3)
        try:
            values = (datetime.fromisoformat(raw[0]), raw[1], uuid.UUID(raw[2]))
        except ValueError:
            raise Problem(slug="invalid-cursor") from None
        stmt = stmt.where(tuple_(*key) < tuple_(*values))
    rows = db.execute(stmt.order_by(*(c.desc() for c in key)).limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        kind, ref_id, at = rows[-1]
        next_cursor = encode_cursor([at.isoformat(), kind, ref_id])
    return _hydrate(db, rows), next_cursor


def _hydrate(db: Session, rows) -> list[dict[str, Any]]:
    wanted: dict[str, list[uuid.UUID]] = {kind: [] for kind in KINDS}
    for kind, ref_id, _at in rows:
        wanted[kind].append(ref_id)
    models = {
        "inspection": Inspection,
        "hazard": Hazard,
        "rectification": Rectification,
        "decision": SubmissionEvent,
    }
    loaded = {
        kind: {o.id: o for o in db.scalars(select(models[kind]).where(models[kind].id.in_(ids)))}
        for kind, ids in wanted.items()
        if ids
    }
    submissions = {
        s.id: s
        for s in db.scalars(
            select(Submission).where(
                Submission.id.in_([e.submission_id for e in loaded.get("decision", {}).values()])
            )
        )
    }
    return [_entry(kind, loaded[kind][ref_id], at, submissions) for kind, ref_id, at in rows]


def _entry(kind: str, obj, at: datetime, submissions: dict) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": kind, "id": obj.id, "at": at}
    if kind == "inspection":
        failed = [r.code for r in obj.results if r.result == "fail"]
        entry.update(
            actor_id=obj.inspector_id,
            summary={
                "inspection_kind": obj.kind,
                "status": obj.status,
                "checked": len(obj.results),
                "failed": failed,
            },
        )
    elif kind == "hazard":
        entry.update(
            actor_id=obj.reported_by,
            summary={
                "severity": obj.severity,
                "category": obj.category,
                "status": obj.status,
                "due_at": obj.due_at.isoformat() if obj.due_at else None,
                "overdue": obj.overdue,
                "closed_at": obj.closed_at.isoformat() if obj.closed_at else None,
                "description": obj.description,
            },
        )
    elif kind == "rectification":
        entry.update(
            actor_id=obj.submitted_by,
            summary={"hazard_id": str(obj.hazard_id), "note": obj.note, "status": obj.status},
        )
    else:
        submission = submissions[obj.submission_id]
        entry.update(
            actor_id=obj.actor_id,
            summary={
                "submission_id": str(submission.id),
                "subject": {"type": submission.subject_type, "id": str(submission.subject_id)},
                "decision": obj.decision,
                "stage": obj.from_stage,
                "to_stage": obj.to_stage,
                "reason": obj.reason,
            },
        )
    return entry
