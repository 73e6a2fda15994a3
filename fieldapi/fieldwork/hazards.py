"""Hazards: read, reported on patrol with photos (into review at once), and raised by an
inspection's failed items, each with a rectification deadline by its severity."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building
from fieldapi.core import scope
from fieldapi.core.db import created_once, for_update, utcnow
from fieldapi.core.pagination import paginate
from fieldapi.core.problems import Conflict, NotFound
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.evidence import attach_all, photo_pointers, photos_named
from fieldapi.fieldwork.models import Hazard
from fieldapi.fieldwork.photo_waits import stop_waiting, unverified, wait_for
from fieldapi.fieldwork.policy import Policy
from fieldapi.fieldwork.records import (
    Outcome,
    audit_event,
    audit_safe,
    building_for_write,
    same_content,
)
from fieldapi.fieldwork.risk import refresh_risk
from fieldapi.review import service as review
from fieldapi.review.models import Submission


def get_hazard(*, db: Session, actor: Actor, hazard_id: uuid.UUID, lock: bool = False) -> Hazard:
    stmt = scope.scoped(actor, Hazard).where(Hazard.id == hazard_id)
    hazard = db.scalar(for_update(stmt) if lock else stmt)
    if hazard is None:
        raise NotFound()
    return hazard


def list_hazards(
    *, db: Session, actor: Actor, filters: dict[str, Any], limit: int, cursor: str | None
) -> tuple[list[Hazard], str | None]:
    stmt = scope.scoped(actor, Hazard)
    for name in ("building_id", "status", "severity"):
        if filters.get(name):
            stmt = stmt.where(getattr(Hazard, name) == filters[name])
    if filters.get("overdue") is not None:
        live = Hazard.status.in_(("open", "rectifying")) & (Hazard.due_at < utcnow())
        stmt = stmt.where(live if filters["overdue"] else ~live)
    return paginate(
        db,
        stmt,
        order_by=[Hazard.reported_at, Hazard.id],
        key=lambda h: [h.reported_at.isoformat(), h.id],
        parse=[datetime.fromisoformat, uuid.UUID],
        limit=limit,
        cursor=cursor,
        descending=True,
    )


def _hazard_content(hazard: Hazard) -> dict[str, Any]:
    return {
        "building_id": hazard.building_id,
        "category": hazard.category,
        "severity": hazard.severity,
        "description": hazard.description,
        "photo_ids": [uuid.UUID(str(p)) for p in hazard.photo_ids],
        "location": {"lat": hazard.lat, "lon": hazard.lon} if hazard.lat is not None else None,
    }


@created_once(Hazard)
def report_hazard(
    *, db: Session, actor: Actor, data: dict[str, Any], policy: Policy
) -> tuple[Outcome, bool]:
    """A hazard seen on patrol, reported with photos; it goes into review as it is."""
    existing = db.get(Hazard, data["id"])
    if existing is not None:
        visible = db.scalar(scope.scoped(actor, Hazard).where(Hazard.id == existing.id))
        sent = {k: v for k, v in data.items() if k not in ("id", "observed_at")}
        if (
            visible is not None
            and existing.source == "report"
            and same_content(_hazard_content(existing), sent)
        ):
            return Outcome(existing, review.submission_for(db, "hazard", existing.id), []), False
        raise Conflict(
            "This id is already used by another hazard.",
            errors=[{"pointer": "/id", "detail": "Already used."}],
        )
    building = building_for_write(db, actor, data["building_id"])
    found = photos_named(db, actor, photo_pointers(data["photo_ids"]))
    location = data.get("location")
    now = utcnow()
    hazard = Hazard(
        id=data["id"],
        building_id=building.id,
        source="report",
        category=data["category"],
        severity=data["severity"],
        description=data["description"],
        photo_ids=[str(p) for p in data["photo_ids"]],
        lat=location["lat"] if location else None,
        lon=location["lon"] if location else None,
        reported_by=actor.user_id,
        reported_at=data.get("observed_at") or now,
        due_at=policy.due_at(data["severity"], now),
        status="open",
    )
    db.add(hazard)
    db.flush()
    audit_event(db, actor, "hazard.report", hazard, "hazard", audit_safe(_hazard_content(hazard)))
    unfinished = unverified(found)
    if unfinished:
        hazard.status = "waiting_photos"
        wait_for(db, actor, "hazard", hazard.id, unfinished)
        return Outcome(hazard, None, unfinished), True
    return Outcome(hazard, finish_hazard(db, actor, hazard, policy), []), True


def finish_hazard(db: Session, actor: Actor, hazard: Hazard, policy: Policy) -> Submission:
    """Attach its photos and start its submission (no photo awaited)."""
    building = db.get(Building, hazard.building_id)
    stop_waiting(db, "hazard", hazard.id)
    attach_all(
        db,
        actor,
        subject_type="hazard",
        subject_id=hazard.id,
        building=building,
        taken_for=hazard.reported_at,
        named=photo_pointers([uuid.UUID(str(p)) for p in hazard.photo_ids]),
        limits=policy.photo_limits,
    )
    if hazard.status == "waiting_photos":
        hazard.status = "open"
    submission = review.submit(
        db,
        actor=actor,
        subject_type="hazard",
        subject_id=hazard.id,
        building_id=hazard.building_id,
        facts=review.Facts(subject_type="hazard", severity=hazard.severity),
        stage_hours=policy.stage_hours,
    )
    refresh_risk(db, hazard.building_id)
    return submission


def hazards_from(db, actor, inspection, failed, by_code, policy, now) -> None:
    """Every failed item is a hazard of the building; an item that passes on a resubmitted
    inspection withdraws the hazard it raised before, unless someone is already rectifying it."""
    raised = for_update(select(Hazard).where(Hazard.inspection_id == inspection.id))
    existing = {h.item_code: h for h in db.scalars(raised)}
    failed_codes = {r.code for r in failed}
    for code, hazard in existing.items():
        if code not in failed_codes and hazard.status == "open":
            hazard.status = "withdrawn"
            audit_event(db, actor, "hazard.withdraw", hazard, "hazard", {"item_code": code})
    for result in failed:
        item = by_code[result.code]
        description = f"{item.label_zh} / {item.label_en}"
        if result.note:
            description += f": {result.note}"
        hazard = existing.get(result.code)
        if hazard is None:
            hazard = Hazard(
                id=uuid.uuid4(),
                building_id=inspection.building_id,
                source="inspection",
                inspection_id=inspection.id,
                item_code=result.code,
                reported_by=inspection.inspector_id,
                reported_at=now,
                status="open",
            )
            db.add(hazard)
        elif hazard.status in ("closed", "rectifying"):
            continue
        hazard.category = item.category
        hazard.severity = item.severity
        hazard.description = description
        hazard.photo_ids = list(result.photo_ids)
        hazard.lat, hazard.lon = inspection.lat, inspection.lon
        if hazard.status != "open" or hazard.due_at is None:
            hazard.due_at = policy.due_at(item.severity, now)
        hazard.status = "open"
        db.flush()
        audit_event(
            db,
            actor,
            "hazard.create",
            hazard,
            "hazard",
            {"inspection_id": str(inspection.id), "item_code": result.code,
             "severity": item.severity, "due_at": hazard.due_at.isoformat()},
        )  # fmt: skip
