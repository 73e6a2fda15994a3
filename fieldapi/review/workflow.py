"""One step along the review chain: ``transition()`` writes the history event and the audit
entry, enters the next stage with its due time, and lets the subject follow through the hook
its module registered (``on_transition``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from fieldapi.audit import service as audit
from fieldapi.core.scope import Actor
from fieldapi.review.models import REVIEW_STAGES, Submission, SubmissionEvent

# subject type -> hook(db, submission, event): keeps the subject in step with its submission.
_HOOKS: dict[str, Callable[[Session, Submission, SubmissionEvent], None]] = {}


def on_transition(subject_type: str, hook: Callable[[Session, Submission, SubmissionEvent], None]):
    _HOOKS[subject_type] = hook


def _enter(submission: Submission, stage: str, now: datetime, stage_hours: int) -> None:
    submission.stage = stage
    submission.stage_entered_at = now
    if stage in REVIEW_STAGES:
        submission.stage_due_at = now + timedelta(hours=stage_hours)
    else:
        submission.stage_due_at = None
    submission.closed_at = now if stage == "closed" else None


def transition(
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
