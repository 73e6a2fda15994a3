"""The review chain: reading submissions, submitting, resubmitting and deciding.

A submission moves ``grid_review → office_review → police_review → closed``, or through the
subset of those stages its route names. The route is chosen by the routing rule table when
the submission is made and again when it is resubmitted. ``return`` sends it to ``returned``
and into its submitter's inbox; resubmitting starts it again at the first stage of its route;
fire police may ``reopen`` a closed one, which returns it and from then on routes it the
whole way.

Every transition takes the submission's row lock and checks the version the caller decided
on, so of many concurrent decisions exactly one applies. The subject (inspection, hazard,
rectification) follows through the hooks its module registers.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.core import scope
from fieldapi.core.db import for_update, utcnow
from fieldapi.core.etag import require_match
from fieldapi.core.pagination import paginate
from fieldapi.core.problems import Conflict, Forbidden, NotFound, ValidationFailed
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.models import InspectionResult
from fieldapi.review.models import STAGE_ROLE, Submission
from fieldapi.review.present import submission_etag
from fieldapi.review.routing import FULL_ROUTE, Facts, choose_route
from fieldapi.review.workflow import transition

# ---------------------------------------------------------------- reading


def get_submission(
    *, db: Session, actor: Actor, submission_id: uuid.UUID, lock: bool = False
) -> Submission:
    stmt = scope.scoped(actor, Submission).where(Submission.id == submission_id)
    submission = db.scalar(for_update(stmt) if lock else stmt)
    if submission is None:
        raise NotFound()
    return submission


def submission_for(
    db: Session, subject_type: str, subject_id: uuid.UUID, *, lock: bool = False
) -> Submission | None:
    stmt = select(Submission).where(
        Submission.subject_type == subject_type, Submission.subject_id == subject_id
    )
    return db.scalar(for_update(stmt) if lock else stmt)


def submissions_for(
    db: Session, subject_type: str, subject_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Submission]:
    if not subject_ids:
        return {}
    rows = db.scalars(
        select(Submission).where(
            Submission.subject_type == subject_type, Submission.subject_id.in_(subject_ids)
        )
    )
    return {s.subject_id: s for s in rows}


def list_submissions(
    *,
    db: Session,
    actor: Actor,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[Submission], str | None]:
    stmt = scope.scoped(actor, Submission)
    if filters.get("stage"):
        stmt = stmt.where(Submission.stage == filters["stage"])
    if filters.get("building_id"):
        stmt = stmt.where(Submission.building_id == filters["building_id"])
    if filters.get("subject_type"):
        stmt = stmt.where(Submission.subject_type == filters["subject_type"])
    if filters.get("mine"):
        stmt = stmt.where(Submission.submitter_id == actor.user_id)
    return paginate(
        db,
        stmt,
        order_by=[Submission.stage_entered_at, Submission.id],
        key=lambda s: [s.stage_entered_at.isoformat(), s.id],
        parse=[datetime.fromisoformat, uuid.UUID],
        limit=limit,
        cursor=cursor,
    )


# ---------------------------------------------------------------- submitting and deciding


def _route(db: Session, submission: Submission, facts: Facts) -> None:
    if submission.escalated:
        submission.route, submission.rule_id = list(FULL_ROUTE), None
        return
    route, rule = choose_route(db, facts)
    submission.route, submission.rule_id = route, rule.id if rule else None


def submit(
    db: Session,
    *,
    actor: Actor,
    subject_type: str,
    subject_id: uuid.UUID,
    building_id: uuid.UUID,
    facts: Facts,
    stage_hours: int,
) -> Submission:
    """Put a subject into the review chain, or back into it after a return.

    A subject is submitted once; after a return its submitter resubmits the same submission,
    which starts again at the first stage its route names now.
    """
    now = utcnow()
    submission = submission_for(db, subject_type, subject_id)
    decided_on = submission.version if submission is not None else 0
    if submission is None:
        submission = Submission(
            id=uuid.uuid4(),
            subject_type=subject_type,
            subject_id=subject_id,
            building_id=building_id,
            submitter_id=actor.user_id,
            stage="grid_review",
            submitted_at=now,
        )
        db.add(submission)
        decision = "submit"
    else:
        _resubmittable(submission, actor)
        decision = "resubmit"
        submission.submitted_at = now
    with db.no_autoflush:  # one write of the submission, one new version
        _route(db, submission, facts)
    first = submission.route[0] if submission.route else "closed"
    transition(
        db,
        submission,
        actor=actor,
        decision=decision,
        to_stage=first,
        now=now,
        stage_hours=stage_hours,
        decided_on=decided_on,
    )
    return submission


def _resubmittable(submission: Submission, actor: Actor) -> None:
    if submission.submitter_id != actor.user_id:
        raise Forbidden("Only the person who submitted this may resubmit it.")
    if submission.stage != "returned":
        raise Conflict(f"This is at {submission.stage}; only a returned submission is resubmitted.")


def check_resubmittable(submission: Submission, actor: Actor, if_match: str | None) -> None:
    require_match(if_match, submission_etag(submission))
    _resubmittable(submission, actor)


def _check_items(db: Session, submission: Submission, items: list[str]) -> None:
    """Items named in a decision are checklist items of the inspection decided on."""
    if not items:
        return
    if submission.subject_type != "inspection":
        raise ValidationFailed.field("/items", "Only an inspection has checklist items to name.")
    checked = set(
        db.scalars(
            select(InspectionResult.code).where(
                InspectionResult.inspection_id == submission.subject_id
            )
        )
    )
    for index, code in enumerate(items):
        if code not in checked:
            raise ValidationFailed.field(f"/items/{index}", "Not an item of this inspection.")


def decide(
    *,
    db: Session,
    actor: Actor,
    submission_id: uuid.UUID,
    decision: str,
    reason: str | None,
    items: list[str],
    if_match: str | None,
    stage_hours: int,
) -> Submission:
    """Apply one decision. 404 out of scope; 428/412 without or with a stale ETag; 403 when
    the caller's role does not decide at this stage; 409 when the stage does not allow it."""
    submission = get_submission(db=db, actor=actor, submission_id=submission_id, lock=True)
    require_match(if_match, submission_etag(submission))
    stage = submission.stage
    if stage == "returned":
        raise Forbidden("A returned submission waits for its submitter to resubmit it.")
    if STAGE_ROLE[stage] != actor.role:
        raise Forbidden(f"At {stage} the decision is for {STAGE_ROLE[stage]}.")
    if submission.submitter_id == actor.user_id:
        raise Forbidden("You submitted this; someone else reviews it.")
    allowed = ("reopen",) if stage == "closed" else ("approve", "return")
    if decision not in allowed:
        raise Conflict(f"At {stage} the decision can be: {', '.join(allowed)}.")
    if decision in ("return", "reopen") and not (reason or "").strip():
        raise ValidationFailed.field("/reason", "Say why, for the person who must act on it.")
    _check_items(db, submission, items)
    decided_on = submission.version

    if decision == "approve":
        route = submission.route
        position = route.index(stage) if stage in route else len(route) - 1
        to_stage = route[position + 1] if position + 1 < len(route) else "closed"
    else:
        to_stage = "returned"
        if decision == "reopen":
            submission.escalated = True
    transition(
        db,
        submission,
        actor=actor,
        decision=decision,
        to_stage=to_stage,
        now=utcnow(),
        stage_hours=stage_hours,
        decided_on=decided_on,
        reason=(reason or "").strip() or None,
        items=items,
    )
    return submission
