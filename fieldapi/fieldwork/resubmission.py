"""Returned work sent back by its submitter, amended, to the start of its route."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from fieldapi.core.problems import Conflict, ValidationFailed
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.evidence import photo_pointers, photos_named
from fieldapi.fieldwork.hazards import finish_hazard
from fieldapi.fieldwork.inspection_submission import submit_inspection
from fieldapi.fieldwork.photo_waits import unverified, wait_for
from fieldapi.fieldwork.policy import Policy
from fieldapi.fieldwork.records import Outcome, locked_hazard, locked_subject
from fieldapi.fieldwork.rectifications import finish_rectification
from fieldapi.review import service as review


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
        inspection, _ = locked_subject(db, "inspection", submission.subject_id)
        if "note" in data:
            inspection.note = data["note"]
        return submit_inspection(db=db, actor=actor, inspection_id=inspection.id, policy=policy)
    if submission.subject_type == "hazard":
        subject, _ = locked_subject(db, "hazard", submission.subject_id)
        if "description" in data:
            subject.description = data["description"]
        finish = finish_hazard
    else:
        subject, _ = locked_subject(db, "rectification", submission.subject_id)
        hazard = locked_hazard(db, subject.hazard_id)
        if hazard.status != "open":
            raise Conflict(f"The hazard is {hazard.status}; there is nothing left to rectify.")
        if "note" in data:
            subject.note = data["note"]
        finish = finish_rectification
    if data.get("photo_ids") is not None:
        subject.photo_ids = [str(p) for p in data["photo_ids"]]
    pointers = photo_pointers([uuid.UUID(str(p)) for p in subject.photo_ids])
    found = photos_named(db, actor, pointers)
    db.flush()
    unfinished = unverified(found)
    if unfinished:
        subject.status = "waiting_photos"
        wait_for(db, actor, submission.subject_type, subject.id, unfinished)
        return Outcome(subject, submission, unfinished)
    return Outcome(subject, finish(db, actor, subject, policy), [])
