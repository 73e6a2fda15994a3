"""What inspections, hazards and rectifications share as records that enter review.

The building a record names, a retried create matched against what is stored, the audit
entry each change writes, the outcome of a submit, and the locks writers take: a record's
submission first, then the record (``locked_subject``), and a hazard's row for whoever
changes it through another record (``locked_hazard``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.audit import service as audit
from fieldapi.buildings.models import Building
from fieldapi.core import scope
from fieldapi.core.db import for_update
from fieldapi.core.problems import ValidationFailed
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.models import Hazard, Inspection, Rectification
from fieldapi.review import service as review
from fieldapi.review.models import Submission


def building_for_write(db: Session, actor: Actor, building_id: uuid.UUID) -> Building:
    """A building named in a body: out of scope reads as a field error, like an unknown id."""
    building = db.scalar(scope.scoped(actor, Building).where(Building.id == building_id))
    if building is None:
        raise ValidationFailed.field("/building_id", "No building in your area with this id.")
    return building


def same_content(stored: dict[str, Any], sent: dict[str, Any]) -> bool:
    """Whether what a retried create sent is what is stored under its id."""
    return all(stored.get(key) == value for key, value in sent.items())


def audit_event(
    db: Session, actor: Actor, action: str, obj, object_type: str, details: dict
) -> None:
    audit.record(
        db,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=obj.id,
        building_id=obj.building_id,
        details=details,
    )


def audit_safe(value: Any) -> Any:
    """Ids and times as text, for an audit entry's details."""
    if isinstance(value, dict):
        return {key: audit_safe(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [audit_safe(v) for v in value]
    if isinstance(value, uuid.UUID | datetime):
        return str(value)
    return value


@dataclass(frozen=True)
class Outcome:
    """What a submit did: submitted (with its submission), or waiting for these photos."""

    subject: Any
    submission: Submission | None
    waiting_for: list[uuid.UUID]


SUBJECTS = {"inspection": Inspection, "hazard": Hazard, "rectification": Rectification}


def locked_subject(
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


def locked_hazard(db: Session, hazard_id: uuid.UUID) -> Hazard | None:
    """The hazard as it is now, its row locked until commit. A hazard is changed by its own
    review (a reported one resubmitted), by its rectification's and by its inspection's: two
    of those at once wait for each other instead of one failing on a stale version."""
    return _locked(db, Hazard, hazard_id)
