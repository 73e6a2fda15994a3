"""Inspections, hazards and rectifications, and how they enter the review chain.

An inspection is written as a draft, then submitted: its photos are attached (and judged),
each failed item becomes a hazard of the building, and a submission enters the review chain.
A record submitted while its photos are still uploading waits (``waiting_photos``) and is
submitted by the server when the last one is verified.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from fieldapi.audit import service as audit
from fieldapi.buildings import service as buildings
from fieldapi.buildings.models import Building
from fieldapi.checklists.models import ChecklistTemplate
from fieldapi.checklists.service import current_template
from fieldapi.core import scope
from fieldapi.core.db import created_once, for_update, utcnow
from fieldapi.core.etag import require_match
from fieldapi.core.pagination import paginate
from fieldapi.core.problems import Conflict, Forbidden, NotFound, Problem, ValidationFailed
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.models import (
    Hazard,
    Inspection,
    InspectionResult,
    PhotoWait,
    Rectification,
)
from fieldapi.photos import service as photos
from fieldapi.photos.flags import Limits
from fieldapi.photos.models import Photo, PhotoUse
from fieldapi.review import service as review
from fieldapi.review.models import Submission, SubmissionEvent
from fieldapi.users.models import User

log = logging.getLogger(__name__)

# Which roles do which kind of inspection.
KIND_ROLES = {
    "self_check": frozenset({"building_manager"}),
    "patrol": frozenset({"officer", "grid_staff"}),
    "verification": frozenset({"grid_staff", "fire_office", "fire_police"}),
}
RISK_BY_SEVERITY = {None: "low", "minor": "medium", "major": "high", "critical": "critical"}
RISK_ORDER = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Policy:
    """The configurable rules of field work."""

    deadline_hours: dict[str, int]
    stage_hours: int
    photo_limits: Limits

    @classmethod
    def from_settings(cls, settings) -> Policy:
        return cls(
            deadline_hours=dict(settings.hazard_deadline_hours),
            stage_hours=settings.review_stage_hours,
            photo_limits=Limits.from_settings(settings),
        )

    @classmethod
    def current(cls) -> Policy:
        return cls.from_settings(current_app.extensions["fieldapi.settings"])

    def due_at(self, severity: str, since: datetime) -> datetime:
        return since + timedelta(hours=self.deadline_hours[severity])


# ---------------------------------------------------------------- shared checks


def _building_for_write(db: Session, actor: Actor, building_id: uuid.UUID) -> Building:
    """A building named in a body: out of scope reads as a field error, like an unknown id."""
    building = db.scalar(scope.scoped(actor, Building).where(Building.id == building_id))
    if building is None:
        raise ValidationFailed.field("/building_id", "No building in your area with this id.")
    return building


def _photos_named(
    db: Session, actor: Actor, named: list[tuple[str, uuid.UUID]]
) -> dict[uuid.UUID, Photo]:
    """The photos a record names, each one the actor can see and not rejected."""
    ids = {photo_id for _pointer, photo_id in named}
    found = (
        {p.id: p for p in db.scalars(scope.scoped(actor, Photo).where(Photo.id.in_(ids)))}
        if ids
        else {}
    )
    for pointer, photo_id in named:
        photo = found.get(photo_id)
        if photo is None:
            raise ValidationFailed.field(pointer, "No photo of yours with this id.")
        if photo.status == "rejected":
            raise ValidationFailed.field(
                pointer, f"This photo was refused ({photo.rejection_reason}); take another."
            )
    return found


def _unfinished(found: dict[uuid.UUID, Photo]) -> list[uuid.UUID]:
    return sorted((p.id for p in found.values() if p.status != "verified"), key=str)


def _wait_for(
    db: Session, actor: Actor, subject_type: str, subject_id: uuid.UUID, photo_ids: list
) -> None:
    _stop_waiting(db, subject_type, subject_id)
    for photo_id in photo_ids:
        db.add(
            PhotoWait(
                subject_type=subject_type,
                subject_id=subject_id,
                photo_id=photo_id,
                actor_id=actor.user_id,
            )
        )
    db.flush()


def _stop_waiting(db: Session, subject_type: str, subject_id: uuid.UUID) -> None:
    db.execute(
        delete(PhotoWait).where(
            PhotoWait.subject_type == subject_type, PhotoWait.subject_id == subject_id
        )
    )


def waiting_for(db: Session, subject_type: str, subject_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        db.scalars(
            select(PhotoWait.photo_id)
            .where(PhotoWait.subject_type == subject_type, PhotoWait.subject_id == subject_id)
            .order_by(PhotoWait.photo_id)
        )
    )


def _attach_all(
    db: Session,
    actor: Actor,
    *,
    subject_type: str,
    subject_id: uuid.UUID,
    building: Building,
    taken_for: datetime,
    named: list[tuple[str, uuid.UUID]],
    limits: Limits,
) -> None:
    """Attach the photos a record names, and drop uses of photos it no longer names."""
    keep = {photo_id for _pointer, photo_id in named}
    for use in db.scalars(
        select(PhotoUse).where(
            PhotoUse.subject_type == subject_type, PhotoUse.subject_id == subject_id
        )
    ):
        if use.photo_id not in keep:
            db.delete(use)
    db.flush()
    for pointer, photo_id in named:
        photos.attach(
            db=db,
            actor=actor,
            photo_id=photo_id,
            subject_type=subject_type,
            subject_id=subject_id,
            building=building,
            taken_for=taken_for,
            limits=limits,
            pointer=pointer,
        )


def photo_flags(db: Session, subject_type: str, subject_id: uuid.UUID) -> dict[str, list[str]]:
    rows = db.execute(
        select(PhotoUse.photo_id, PhotoUse.flags).where(
            PhotoUse.subject_type == subject_type, PhotoUse.subject_id == subject_id
        )
    )
    return {str(photo_id): list(flags) for photo_id, flags in rows}


def _same(stored: dict[str, Any], sent: dict[str, Any]) -> bool:
    return all(stored.get(key) == value for key, value in sent.items())


def refresh_risk(db: Session, building_id: uuid.UUID) -> None:
    """Risk from the building's live hazards: the worst severity, one level up if any is
    overdue. Kept on the building so lists can filter and sort by it."""
    live = db.execute(
        select(Hazard.severity, Hazard.due_at).where(
            Hazard.building_id == building_id, Hazard.status.in_(("open", "rectifying"))
        )
    ).all()
    worst = review.worst([severity for severity, _due in live])
    level = RISK_BY_SEVERITY[worst]
    now = utcnow()
    if any(due is not None and due < now for _severity, due in live):
        level = RISK_ORDER[min(RISK_ORDER.index(level) + 1, len(RISK_ORDER) - 1)]
    buildings.update_derived(db, building_id, Building.risk_level != level, risk_level=level)


def refresh_all_risks(db: Session) -> int:
    """Recompute every building's risk (for hazards that became overdue); how many changed."""
    before = dict(db.execute(select(Building.id, Building.risk_level)).all())
    for building_id in before:
        refresh_risk(db, building_id)
    after = dict(db.execute(select(Building.id, Building.risk_level)).all())
    return sum(after.get(building_id) != level for building_id, level in before.items())


# ---------------------------------------------------------------- inspections


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


def _named_photos(items: list[dict[str, Any]]) -> list[tuple[str, uuid.UUID]]:
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
        "items": _results_as_sent(inspection),
    }


def _results_as_sent(inspection: Inspection) -> list[dict[str, Any]]:
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


def _audit(db: Session, actor: Actor, action: str, obj, object_type: str, details: dict) -> None:
    audit.record(
        db,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=obj.id,
        building_id=obj.building_id,
        details=details,
    )


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
        if visible is not None and _same(_inspection_content(existing), sent):
            return existing, False
        raise Conflict(
            "This id is already used by another inspection.",
            errors=[{"pointer": "/id", "detail": "Already used."}],
        )
    building = _building_for_write(db, actor, data["building_id"])
    if actor.role not in KIND_ROLES[data["kind"]]:
        raise Forbidden(f"A {data['kind'].replace('_', ' ')} is not done by your role.")
    template = _template_for(db, building, data.get("template_id"))
    _check_items(template, data["items"])
    _photos_named(db, actor, _named_photos(data["items"]))
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
    _audit(db, actor, "inspection.create", inspection, "inspection", _jsonable_content(inspection))
    return inspection, True


def _jsonable_content(inspection: Inspection) -> dict[str, Any]:
    content = _inspection_content(inspection)
    return audit_safe(content)


def audit_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: audit_safe(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [audit_safe(v) for v in value]
    if isinstance(value, uuid.UUID | datetime):
        return str(value)
    return value


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
    from fieldapi.fieldwork.present import inspection_etag

    require_match(if_match, inspection_etag(db, inspection))
    _editable(db, actor, inspection)
    template = db.get(ChecklistTemplate, inspection.template_id)
    if "items" in data:
        _check_items(template, data["items"])
        _photos_named(db, actor, _named_photos(data["items"]))
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
        _stop_waiting(db, "inspection", inspection.id)
        inspection.status = "draft"
    inspection.updated_at = utcnow()
    db.flush()
    _audit(db, actor, "inspection.update", inspection, "inspection", _jsonable_content(inspection))
    return inspection


def _check_photos_present(template: ChecklistTemplate, inspection: Inspection) -> None:
    needs_photo = {item.code for item in template.items if item.photo_required}
    for index, result in enumerate(inspection.results):
        if result.code in needs_photo and result.result != "na" and not result.photo_ids:
            raise ValidationFailed.field(
                f"/items/{index}/photo_ids", "This item must be photographed."
            )


@dataclass(frozen=True)
class Outcome:
    """What a submit did: submitted (with its submission), or waiting for these photos."""

    subject: Any
    submission: Submission | None
    waiting_for: list[uuid.UUID]


def submit_inspection(
    *, db: Session, actor: Actor, inspection_id: uuid.UUID, policy: Policy
) -> Outcome:
    """Submit a draft or a returned inspection. Submitting again what is already in review
    answers where it is (a phone retrying after a lost answer)."""
    inspection = get_inspection(db=db, actor=actor, inspection_id=inspection_id)
    if inspection.inspector_id != actor.user_id:
        raise Forbidden("Only the inspector changes or submits an inspection.")
    # A submit sent again while the first still runs waits for it, then answers where it is.
    inspection, submission = _locked_subject(db, "inspection", inspection.id)
    if (
        submission is not None
        and submission.stage != "returned"
        and (inspection.status == "submitted")
    ):
        return Outcome(inspection, submission, [])
    template = db.get(ChecklistTemplate, inspection.template_id)
    _check_photos_present(template, inspection)
    found = _photos_named(db, actor, _named_photos(_results_as_sent(inspection)))
    unfinished = _unfinished(found)
    if unfinished:
        inspection.status = "waiting_photos"
        _wait_for(db, actor, "inspection", inspection.id, unfinished)
        db.flush()
        return Outcome(inspection, submission, unfinished)
    submission = _finish_inspection(db, actor, inspection, template, policy)
    return Outcome(inspection, submission, [])


def _finish_inspection(
    db: Session, actor: Actor, inspection: Inspection, template: ChecklistTemplate, policy: Policy
) -> Submission:
    building = db.get(Building, inspection.building_id)
    now = utcnow()
    _stop_waiting(db, "inspection", inspection.id)
    _attach_all(
        db,
        actor,
        subject_type="inspection",
        subject_id=inspection.id,
        building=building,
        taken_for=inspection.performed_at,
        named=_named_photos(_results_as_sent(inspection)),
        limits=policy.photo_limits,
    )
    by_code = {item.code: item for item in template.items}
    failed = [r for r in inspection.results if r.result == "fail"]
    _hazards_from(db, actor, inspection, failed, by_code, policy, now)
    inspection.status = "submitted"
    inspection.submitted_at = now
    db.flush()
    submission = review.submit(
        db,
        actor=actor,
        subject_type="inspection",
        subject_id=inspection.id,
        building_id=inspection.building_id,
        facts=review.Facts(
            subject_type="inspection",
            inspection_kind=inspection.kind,
            failed_items=len(failed),
            severity=review.worst([by_code[r.code].severity for r in failed]),
        ),
        stage_hours=policy.stage_hours,
    )
    refresh_risk(db, inspection.building_id)
    return submission


def _hazards_from(db, actor, inspection, failed, by_code, policy, now) -> None:
    """Every failed item is a hazard of the building; an item that passes on a resubmitted
    inspection withdraws the hazard it raised before, unless someone is already rectifying it."""
    raised = for_update(select(Hazard).where(Hazard.inspection_id == inspection.id))
    existing = {h.item_code: h for h in db.scalars(raised)}
    failed_codes = {r.code for r in failed}
    for code, hazard in existing.items():
        if code not in failed_codes and hazard.status == "open":
            hazard.status = "withdrawn"
            _audit(db, actor, "hazard.withdraw", hazard, "hazard", {"item_code": code})
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
        _audit(
            db,
            actor,
            "hazard.create",
            hazard,
            "hazard",
            {"inspection_id": str(inspection.id), "item_code": result.code,
             "severity": item.severity, "due_at": hazard.due_at.isoformat()},
        )  # fmt: skip


def _inspection_closed(db: Session, submission: Submission, event: SubmissionEvent) -> None:
    """A closed inspection counts as the building's last inspection; a closed self-check
    moves the building's self-check schedule on."""
    if event.to_stage != "closed":
        return
    inspection = db.get(Inspection, submission.subject_id)
    if inspection is None:
        return
    last = Building.last_inspected_at
    buildings.update_derived(
        db,
        submission.building_id,
        or_(last.is_(None), last < inspection.performed_at),
        last_inspected_at=inspection.performed_at,
    )
    if inspection.kind == "self_check":
        # The next one is due an interval after the latest self-check that closed (a late
        # closing of an older one does not pull the date back).
        latest = db.scalar(
            select(func.max(Inspection.performed_at))
            .join(Submission, Submission.subject_id == Inspection.id)
            .where(
                Inspection.building_id == submission.building_id,
                Inspection.kind == "self_check",
                Submission.subject_type == "inspection",
                Submission.stage == "closed",
            )
        )
        latest = max(latest or inspection.performed_at, inspection.performed_at)
        interval = db.scalar(
            select(Building.self_check_interval_days).where(Building.id == submission.building_id)
        )
        due = latest + timedelta(days=interval)
        nxt = Building.next_self_check_due_at
        buildings.update_derived(
            db,
            submission.building_id,
            or_(nxt.is_(None), nxt != due),
            next_self_check_due_at=due,
        )


review.on_transition("inspection", _inspection_closed)


# ---------------------------------------------------------------- hazards


def get_hazard(*, db: Session, actor: Actor, hazard_id: uuid.UUID, lock: bool = False) -> Hazard:
    stmt = scope.scoped(actor, Hazard).where(Hazard.id == hazard_id)
    hazard = db.scalar(for_update(stmt) if lock else stmt)
    if hazard is None:
        raise NotFound()
    return hazard


SUBJECTS = {"inspection": Inspection, "hazard": Hazard, "rectification": Rectification}


def _locked_subject(
    db: Session, subject_type: str, subject_id: uuid.UUID
) -> tuple[Any, Submission | None]:
    """A record that enters review, and its submission if it has one, as they are now, both
    rows locked until commit: the submission first, the order every writer takes them in.
    Writers of one record (a submit and its retry, the photos it waits for finishing at once)
    so queue, each acting on what the one before it committed."""
    db.flush()  # the fresh read would otherwise overwrite changes not yet written
    submission = review.submission_for(db, subject_type, subject_id, lock=True)
    subject = _locked(db, SUBJECTS[subject_type], subject_id)
    if submission is None:
        # The writer this one waited for may have submitted it.
        submission = review.submission_for(db, subject_type, subject_id, lock=True)
    return subject, submission


def _locked(db: Session, model, object_id: uuid.UUID):
    return db.scalar(for_update(select(model).where(model.id == object_id)))


def _locked_hazard(db: Session, hazard_id: uuid.UUID) -> Hazard | None:
    """The hazard as it is now, its row locked until commit. A hazard is changed by its own
    review (a reported one resubmitted), by its rectification's and by its inspection's: two
    of those at once wait for each other instead of one failing on a stale version."""
    return _locked(db, Hazard, hazard_id)


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


def _photo_pointers(photo_ids: list[uuid.UUID]) -> list[tuple[str, uuid.UUID]]:
    return [(f"/photo_ids/{n}", photo_id) for n, photo_id in enumerate(photo_ids)]


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
            and _same(_hazard_content(existing), sent)
        ):
            return Outcome(existing, review.submission_for(db, "hazard", existing.id), []), False
        raise Conflict(
            "This id is already used by another hazard.",
            errors=[{"pointer": "/id", "detail": "Already used."}],
        )
    building = _building_for_write(db, actor, data["building_id"])
    found = _photos_named(db, actor, _photo_pointers(data["photo_ids"]))
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
    _audit(db, actor, "hazard.report", hazard, "hazard", audit_safe(_hazard_content(hazard)))
    unfinished = _unfinished(found)
    if unfinished:
        hazard.status = "waiting_photos"
        _wait_for(db, actor, "hazard", hazard.id, unfinished)
        return Outcome(hazard, None, unfinished), True
    return Outcome(hazard, _finish_hazard(db, actor, hazard, policy), []), True


def _finish_hazard(db: Session, actor: Actor, hazard: Hazard, policy: Policy) -> Submission:
    building = db.get(Building, hazard.building_id)
    _stop_waiting(db, "hazard", hazard.id)
    _attach_all(
        db,
        actor,
        subject_type="hazard",
        subject_id=hazard.id,
        building=building,
        taken_for=hazard.reported_at,
        named=_photo_pointers([uuid.UUID(str(p)) for p in hazard.photo_ids]),
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


# ---------------------------------------------------------------- rectifications


def list_rectifications(*, db: Session, actor: Actor, hazard_id: uuid.UUID) -> list[Rectification]:
    hazard = get_hazard(db=db, actor=actor, hazard_id=hazard_id)
    return list(
        db.scalars(
            select(Rectification)
            .where(Rectification.hazard_id == hazard.id)
            .order_by(Rectification.created_at, Rectification.id)
        )
    )


def _rectification_content(rectification: Rectification) -> dict[str, Any]:
    return {
        "note": rectification.note,
        "photo_ids": [uuid.UUID(str(p)) for p in rectification.photo_ids],
    }


@created_once(Rectification)
def rectify(
    *, db: Session, actor: Actor, hazard_id: uuid.UUID, data: dict[str, Any], policy: Policy
) -> tuple[Outcome, bool]:
    """The building manager answers an open hazard with what was done and after-photos."""
    hazard = get_hazard(db=db, actor=actor, hazard_id=hazard_id, lock=True)
    existing = db.get(Rectification, data["id"])
    if existing is not None:
        sent = {k: v for k, v in data.items() if k != "id"}
        if existing.hazard_id == hazard.id and _same(_rectification_content(existing), sent):
            submission = review.submission_for(db, "rectification", existing.id)
            return Outcome(
                existing, submission, waiting_for(db, "rectification", existing.id)
            ), False
        raise Conflict(
            "This id is already used by another rectification.",
            errors=[{"pointer": "/id", "detail": "Already used."}],
        )
    if hazard.status != "open":
        raise Conflict(f"This hazard is {hazard.status}; only an open hazard is rectified.")
    live = db.scalar(
        select(Submission.id)
        .join(Rectification, Rectification.id == Submission.subject_id)
        .where(
            Submission.subject_type == "rectification",
            Rectification.hazard_id == hazard.id,
            Submission.stage != "closed",
        )
        .limit(1)
    )
    pending = db.scalar(
        select(Rectification.id).where(
            Rectification.hazard_id == hazard.id, Rectification.status == "waiting_photos"
        )
    )
    if live is not None or pending is not None:
        raise Conflict(
            "A rectification of this hazard is already on its way; resubmit that one if it was "
            "returned."
        )
    found = _photos_named(db, actor, _photo_pointers(data["photo_ids"]))
    rectification = Rectification(
        id=data["id"],
        hazard_id=hazard.id,
        building_id=hazard.building_id,
        note=data["note"],
        photo_ids=[str(p) for p in data["photo_ids"]],
        submitted_by=actor.user_id,
        status="submitted",
    )
    db.add(rectification)
    db.flush()
    _audit(
        db,
        actor,
        "rectification.create",
        rectification,
        "rectification",
        {"hazard_id": str(hazard.id), **audit_safe(_rectification_content(rectification))},
    )
    unfinished = _unfinished(found)
    if unfinished:
        rectification.status = "waiting_photos"
        _wait_for(db, actor, "rectification", rectification.id, unfinished)
        return Outcome(rectification, None, unfinished), True
    submission = _finish_rectification(db, actor, rectification, policy)
    return Outcome(rectification, submission, []), True


def _finish_rectification(
    db: Session, actor: Actor, rectification: Rectification, policy: Policy
) -> Submission:
    hazard = db.get(Hazard, rectification.hazard_id)
    building = db.get(Building, rectification.building_id)
    _stop_waiting(db, "rectification", rectification.id)
    _attach_all(
        db,
        actor,
        subject_type="rectification",
        subject_id=rectification.id,
        building=building,
        taken_for=utcnow(),
        named=_photo_pointers([uuid.UUID(str(p)) for p in rectification.photo_ids]),
        limits=policy.photo_limits,
    )
    rectification.status = "submitted"
    return review.submit(
        db,
        actor=actor,
        subject_type="rectification",
        subject_id=rectification.id,
        building_id=rectification.building_id,
        facts=review.Facts(subject_type="rectification", severity=hazard.severity),
        stage_hours=policy.stage_hours,
    )


def _rectification_moved(db: Session, submission: Submission, event: SubmissionEvent) -> None:
    """The hazard follows its rectification: in review, back open, or closed with the date."""
    rectification = db.get(Rectification, submission.subject_id)
    hazard = _locked_hazard(db, rectification.hazard_id) if rectification else None
    if hazard is None:
        return
    if event.to_stage == "closed":
        hazard.status, hazard.closed_at = "closed", event.at
    elif event.to_stage == "returned":
        hazard.status, hazard.closed_at = "open", None
    else:
        hazard.status, hazard.closed_at = "rectifying", None
    db.flush()
    refresh_risk(db, hazard.building_id)


review.on_transition("rectification", _rectification_moved)


# ---------------------------------------------------------------- resubmission


def resubmit(
    *,
    db: Session,
    actor: Actor,
    submission_id: uuid.UUID,
    data: dict[str, Any],
    if_match: str | None,
    policy: Policy,
) -> Outcome:
    """The submitter sends returned work back, amended, to the start of its route."""
    submission = review.get_submission(db=db, actor=actor, submission_id=submission_id, lock=True)
    review.check_resubmittable(submission, actor, if_match)
    if submission.subject_type == "inspection":
        if set(data) - {"note"}:
            raise ValidationFailed(
                "Change a returned inspection with PATCH /inspections/{id}, then resubmit it."
            )
        inspection, _ = _locked_subject(db, "inspection", submission.subject_id)
        if "note" in data:
            inspection.note = data["note"]
        return submit_inspection(db=db, actor=actor, inspection_id=inspection.id, policy=policy)
    if submission.subject_type == "hazard":
        subject, _ = _locked_subject(db, "hazard", submission.subject_id)
        if "description" in data:
            subject.description = data["description"]
        finish = _finish_hazard
    else:
        subject, _ = _locked_subject(db, "rectification", submission.subject_id)
        hazard = _locked_hazard(db, subject.hazard_id)
        if hazard.status != "open":
            raise Conflict(f"The hazard is {hazard.status}; there is nothing left to rectify.")
        if "note" in data:
            subject.note = data["note"]
        finish = _finish_rectification
    if data.get("photo_ids") is not None:
        subject.photo_ids = [str(p) for p in data["photo_ids"]]
    pointers = _photo_pointers([uuid.UUID(str(p)) for p in subject.photo_ids])
    found = _photos_named(db, actor, pointers)
    db.flush()
    unfinished = _unfinished(found)
    if unfinished:
        subject.status = "waiting_photos"
        _wait_for(db, actor, submission.subject_type, subject.id, unfinished)
        return Outcome(subject, submission, unfinished)
    return Outcome(subject, finish(db, actor, subject, policy), [])


# ---------------------------------------------------------------- photos arriving


def _photo_verified(db: Session, photo: Photo) -> None:
    """A photo a submitted record waited for is verified: the last one submits the record.

    Each waiting record is locked before its waits are counted. Of photos finishing at once,
    the one that commits last so sees the others' waits gone, and submits."""
    waiting = db.execute(
        select(PhotoWait.subject_type, PhotoWait.subject_id)
        .where(PhotoWait.photo_id == photo.id)
        .order_by(PhotoWait.subject_type, PhotoWait.subject_id)
    ).all()
    if not waiting:
        return
    subjects = {(kind, key): _locked_subject(db, kind, key)[0] for kind, key in waiting}
    # What is still awaited once the locks are held: a record changed meanwhile waits no more.
    waits = list(db.scalars(select(PhotoWait).where(PhotoWait.photo_id == photo.id)))
    for wait in waits:
        db.delete(wait)
    db.flush()
    policy = Policy.current()
    for wait in waits:
        if waiting_for(db, wait.subject_type, wait.subject_id):
            continue
        user = db.get(User, wait.actor_id)
        actor = Actor(user_id=user.id, username=user.username, role=user.role)
        try:
            with db.begin_nested():
                subject = subjects[(wait.subject_type, wait.subject_id)]
                _carry_on(db, actor, wait.subject_type, subject, policy)
        except Problem as problem:
            # Left waiting; the submitter sees it and submits again.
            log.info("%s %s stays unsubmitted: %s", wait.subject_type, wait.subject_id, problem)


def _carry_on(db: Session, actor: Actor, subject_type: str, subject, policy: Policy) -> None:
    """Submit a record whose last awaited photo arrived, as its submitter's submit would."""
    if subject is None or subject.status != "waiting_photos":
        return
    if subject_type == "inspection":
        template = db.get(ChecklistTemplate, subject.template_id)
        _finish_inspection(db, actor, subject, template, policy)
    elif subject_type == "hazard":
        _finish_hazard(db, actor, subject, policy)
    else:
        _finish_rectification(db, actor, subject, policy)


photos.on_verified(_photo_verified)
