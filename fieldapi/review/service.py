"""The review chain.

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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.audit import service as audit
from fieldapi.core import scope
from fieldapi.core.db import for_update, utcnow
from fieldapi.core.etag import make_etag, require_match
from fieldapi.core.pagination import paginate
from fieldapi.core.problems import Conflict, Forbidden, NotFound, ValidationFailed
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.models import SEVERITY_RANK, InspectionResult
from fieldapi.review.models import (
    REVIEW_STAGES,
    STAGE_ROLE,
    RoutingRule,
    Submission,
    SubmissionEvent,
)

FULL_ROUTE = list(REVIEW_STAGES)


@dataclass(frozen=True)
class Facts:
    """What routing looks at: what is submitted, and how serious it is."""

    subject_type: str
    inspection_kind: str | None = None
    failed_items: int = 0
    severity: str | None = None  # the most serious severity involved, if any


# subject type -> hook(db, submission, event): keeps the subject in step with its submission.
_HOOKS: dict[str, Callable[[Session, Submission, SubmissionEvent], None]] = {}


def on_transition(subject_type: str, hook: Callable[[Session, Submission, SubmissionEvent], None]):
    _HOOKS[subject_type] = hook


def submission_etag(submission: Submission) -> str:
    return make_etag("submission", submission.id, submission.version)


# ---------------------------------------------------------------- routing


def rules(db: Session) -> list[RoutingRule]:
    return list(db.scalars(select(RoutingRule).order_by(RoutingRule.position)))


def _matches(rule: RoutingRule, facts: Facts) -> bool:
    if rule.subject_type is not None and rule.subject_type != facts.subject_type:
        return False
    if rule.inspection_kind is not None and rule.inspection_kind != facts.inspection_kind:
        return False
    if rule.has_failed_items is not None and rule.has_failed_items != (facts.failed_items > 0):
        return False
    return rule.severities is None or facts.severity in rule.severities


def choose_route(db: Session, facts: Facts) -> tuple[list[str], RoutingRule | None]:
    """The stages of the first matching rule; the whole chain when no rule matches."""
    for rule in rules(db):
        if _matches(rule, facts):
            return list(rule.stages), rule
    return list(FULL_ROUTE), None


def worst(severities: list[str]) -> str | None:
    return max(severities, key=SEVERITY_RANK.__getitem__) if severities else None


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


def time_in_stages(submission: Submission, now: datetime | None = None) -> dict[str, float]:
    """Seconds spent at each stage so far, summed over every visit."""
    now = now or utcnow()
    spent: dict[str, float] = {}
    events = submission.events
    for event, following in zip(events, [*events[1:], None], strict=True):
        until = following.at if following is not None else now
        if event.to_stage == "closed" and following is None:
            continue
        spent[event.to_stage] = spent.get(event.to_stage, 0.0) + (until - event.at).total_seconds()
    return spent


def present(submission: Submission) -> dict[str, Any]:
    return {
        "id": submission.id,
        "subject": {"type": submission.subject_type, "id": submission.subject_id},
        "building_id": submission.building_id,
        "submitter_id": submission.submitter_id,
        "stage": submission.stage,
        "route": submission.route,
        "escalated": submission.escalated,
        "submitted_at": submission.submitted_at,
        "stage_entered_at": submission.stage_entered_at,
        "due_at": submission.stage_due_at,
        "overdue": submission.stage_due_at is not None and submission.stage_due_at < utcnow(),
        "closed_at": submission.closed_at,
        "version": submission.version,
        "time_in_stages": time_in_stages(submission),
        "history": [
            {
                "seq": e.seq,
                "decision": e.decision,
                "stage": e.from_stage,
                "to_stage": e.to_stage,
                "actor_id": e.actor_id,
                "actor_role": e.actor_role,
                "reason": e.reason,
                "items": e.items,
                "version": e.version,
                "at": e.at,
            }
            for e in submission.events
        ],
    }


# ---------------------------------------------------------------- transitions


def _enter(submission: Submission, stage: str, now: datetime, stage_hours: int) -> None:
    submission.stage = stage
    submission.stage_entered_at = now
    if stage in REVIEW_STAGES:
        submission.stage_due_at = now + timedelta(hours=stage_hours)
    else:
        submission.stage_due_at = None
    submission.closed_at = now if stage == "closed" else None


def _transition(
    db: Session,
    submission: Submission,
    *,
    actor: Actor,
    decision: str,
    to_stage: str,
    now: datetime,
    stage_hours: int,
    decided_on: int,
    reason: str | None = None,
    items: list[str] | None = None,
) -> SubmissionEvent:
    """Record one transition. ``decided_on`` is the version the actor acted on (0 for the
    first submit), taken before anything changed."""
    event = SubmissionEvent(
        seq=len(submission.events) + 1,
        decision=decision,
        from_stage=submission.stage if submission.events else None,
        to_stage=to_stage,
        actor_id=actor.user_id,
        actor_role=actor.role,
        reason=reason,
        items=list(items or []),
        version=decided_on,
        at=now,
    )
    submission.events.append(event)
    _enter(submission, to_stage, now, stage_hours)
    db.flush()
    audit.record(
        db,
        actor=actor,
        action=f"submission.{decision}",
        object_type="submission",
        object_id=submission.id,
        building_id=submission.building_id,
        details={
            "subject": [submission.subject_type, str(submission.subject_id)],
            "from": event.from_stage,
            "to": to_stage,
            "reason": reason,
            "items": event.items,
            "version": event.version,
            "route": submission.route,
        },
    )
    hook = _HOOKS.get(submission.subject_type)
    if hook is not None:
        hook(db, submission, event)
    return event


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
    _transition(
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
    _transition(
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


# ---------------------------------------------------------------- the routing table

RULE_FIELDS = (
    "subject_type",
    "inspection_kind",
    "has_failed_items",
    "severities",
    "stages",
    "description",
)


def present_rule(rule: RoutingRule) -> dict[str, Any]:
    return {"id": rule.id, "position": rule.position, **{f: getattr(rule, f) for f in RULE_FIELDS}}


def rules_etag(table: list[RoutingRule]) -> str:
    content = [[str(r.id), *(getattr(r, f) for f in RULE_FIELDS)] for r in table]
    return make_etag("routing_rules", audit.digest_of(content), len(table))


def replace_rules(
    *, db: Session, actor: Actor, data: list[dict[str, Any]], if_match: str | None
) -> list[RoutingRule]:
    """Replace the whole table at once, in the order given (If-Match on the table)."""
    current = rules(db)
    require_match(if_match, rules_etag(current))
    for rule in current:
        db.delete(rule)
    db.flush()
    table = [
        RoutingRule(id=uuid.uuid4(), position=position, **{f: row.get(f) for f in RULE_FIELDS})
        for position, row in enumerate(data, start=1)
    ]
    for rule in table:
        rule.description = rule.description or ""
        db.add(rule)
    db.flush()
    audit.record(
        db,
        actor=actor,
        action="routing.update",
        object_type="routing_rules",
        object_id="table",
        details={"rules": [present_rule(r) | {"id": str(r.id)} for r in table]},
    )
    return table
