"""An inspection submitted: its required photos checked, its photos attached, each failed
item made a hazard, and a submission started at its route's first stage (or it waits for
photos still uploading); and what its closing changes on the building."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from fieldapi.buildings import service as buildings
from fieldapi.buildings.models import Building
from fieldapi.checklists.models import ChecklistTemplate
from fieldapi.core.db import utcnow
from fieldapi.core.problems import Forbidden, ValidationFailed
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.evidence import attach_all, photos_named
from fieldapi.fieldwork.hazards import hazards_from
from fieldapi.fieldwork.inspections import get_inspection, named_photos, results_as_sent
from fieldapi.fieldwork.models import Inspection
from fieldapi.fieldwork.photo_waits import stop_waiting, unverified, wait_for
from fieldapi.fieldwork.policy import Policy
from fieldapi.fieldwork.records import Outcome, locked_subject
from fieldapi.fieldwork.risk import refresh_risk
from fieldapi.review import routing, workflow
from fieldapi.review import service as review
from fieldapi.review.models import Submission, SubmissionEvent


def _check_photos_present(template: ChecklistTemplate, inspection: Inspection) -> None:
    needs_photo = {item.code for item in template.items if item.photo_required}
    for index, result in enumerate(inspection.results):
        if result.code in needs_photo and result.result != "na" and not result.photo_ids:
            raise ValidationFailed.field(
                f"/items/{index}/photo_ids", "This item must be photographed."
            )


def submit_inspection(
    *, db: Session, actor: Actor, inspection_id: uuid.UUID, policy: Policy
) -> Outcome:
    """Submit a draft or a returned inspection. Submitting again what is already in review
    answers where it is (a phone retrying after a lost answer)."""
    inspection = get_inspection(db=db, actor=actor, inspection_id=inspection_id)
    if inspection.inspector_id != actor.user_id:
        raise Forbidden("Only the inspector changes or submits an inspection.")
    # A submit sent again while the first still runs waits for it, then answers where it is.
    inspection, submission = locked_subject(db, "inspection", inspection.id)
    if (
        submission is not None
        and submission.stage != "returned"
        and (inspection.status == "submitted")
    ):
        return Outcome(inspection, submission, [])
    template = db.get(ChecklistTemplate, inspection.template_id)
    _check_photos_present(template, inspection)
    found = photos_named(db, actor, named_photos(results_as_sent(inspection)))
    unfinished = unverified(found)
    if unfinished:
        inspection.status = "waiting_photos"
        wait_for(db, actor, "inspection", inspection.id, unfinished)
        db.flush()
        return Outcome(inspection, submission, unfinished)
    submission = finish_inspection(db, actor, inspection, template, policy)
    return Outcome(inspection, submission, [])


def finish_inspection(
    db: Session, actor: Actor, inspection: Inspection, template: ChecklistTemplate, policy: Policy
) -> Submission:
    """Attach its photos, raise its hazards and start its submission (no photo awaited)."""
    building = db.get(Building, inspection.building_id)
    now = utcnow()
    stop_waiting(db, "inspection", inspection.id)
    attach_all(
        db,
        actor,
        subject_type="inspection",
        subject_id=inspection.id,
        building=building,
        taken_for=inspection.performed_at,
        named=named_photos(results_as_sent(inspection)),
        limits=policy.photo_limits,
    )
    by_code = {item.code: item for item in template.items}
    failed = [r for r in inspection.results if r.result == "fail"]
    hazards_from(db, actor, inspection, failed, by_code, policy, now)
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
            severity=routing.worst([by_code[r.code].severity for r in failed]),
        ),
        stage_hours=policy.stage_hours,
    )
    refresh_risk(db, inspection.building_id)
    return submission


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


workflow.on_transition("inspection", _inspection_closed)
