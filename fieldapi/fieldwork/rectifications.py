"""Rectifications: the building manager's answer to an open hazard, with after-photos,
into review; the hazard follows its rectification through review."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building
from fieldapi.core.db import created_once, utcnow
from fieldapi.core.problems import Conflict
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.evidence import attach_all, photo_pointers, photos_named
from fieldapi.fieldwork.hazards import get_hazard
from fieldapi.fieldwork.models import Hazard, Rectification
from fieldapi.fieldwork.photo_waits import stop_waiting, unverified, wait_for, waiting_for
from fieldapi.fieldwork.policy import Policy
from fieldapi.fieldwork.records import Outcome, audit_event, audit_safe, locked_hazard, same_content
from fieldapi.fieldwork.risk import refresh_risk
from fieldapi.review import service as review
from fieldapi.review import workflow
from fieldapi.review.models import Submission, SubmissionEvent


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
        if existing.hazard_id == hazard.id and same_content(_rectification_content(existing), sent):
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
    found = photos_named(db, actor, photo_pointers(data["photo_ids"]))
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
    audit_event(
        db,
        actor,
        "rectification.create",
        rectification,
        "rectification",
        {"hazard_id": str(hazard.id), **audit_safe(_rectification_content(rectification))},
    )
    unfinished = unverified(found)
    if unfinished:
        rectification.status = "waiting_photos"
        wait_for(db, actor, "rectification", rectification.id, unfinished)
        return Outcome(rectification, None, unfinished), True
    submission = finish_rectification(db, actor, rectification, policy)
    return Outcome(rectification, submission, []), True


def finish_rectification(
    db: Session, actor: Actor, rectification: Rectification, policy: Policy
) -> Submission:
    """Attach its photos and start its submission (no photo awaited)."""
    hazard = db.get(Hazard, rectification.hazard_id)
    building = db.get(Building, rectification.building_id)
    stop_waiting(db, "rectification", rectification.id)
    attach_all(
        db,
        actor,
        subject_type="rectification",
        subject_id=rectification.id,
        building=building,
        taken_for=utcnow(),
        named=photo_pointers([uuid.UUID(str(p)) for p in rectification.photo_ids]),
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
    hazard = locked_hazard(db, rectification.hazard_id) if rectification else None
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


workflow.on_transition("rectification", _rectification_moved)
