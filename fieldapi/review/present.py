"""Submissions as the API answers them: the body, its ETag, and the time spent per stage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fieldapi.core.db import utcnow
from fieldapi.core.etag import make_etag
from fieldapi.review.models import Submission


def submission_etag(submission: Submission) -> str:
    return make_etag("submission", submission.id, submission.version)


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
