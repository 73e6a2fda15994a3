"""A photo verified: a record that waited for it, once it waits for nothing more, is
submitted as its submitter's submit would have done.

Registered with photo verification when imported (the field work views import it).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.checklists.models import ChecklistTemplate
from fieldapi.core.problems import Problem
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.hazards import finish_hazard
from fieldapi.fieldwork.inspection_submission import finish_inspection
from fieldapi.fieldwork.models import PhotoWait
from fieldapi.fieldwork.photo_waits import waiting_for
from fieldapi.fieldwork.policy import Policy
from fieldapi.fieldwork.records import locked_subject
from fieldapi.fieldwork.rectifications import finish_rectification
from fieldapi.photos import verification
from fieldapi.photos.models import Photo
from fieldapi.users.models import User

log = logging.getLogger(__name__)


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
    subjects = {(kind, key): locked_subject(db, kind, key)[0] for kind, key in waiting}
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
        finish_inspection(db, actor, subject, template, policy)
    elif subject_type == "hazard":
        finish_hazard(db, actor, subject, policy)
    else:
        finish_rectification(db, actor, subject, policy)


verification.on_verified(_photo_verified)
