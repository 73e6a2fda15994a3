"""Attaching photos to the records of a building, and letting go of the uses a building's
file no longer names. Each use is judged for its flags as it is attached."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building
from fieldapi.core import scope
from fieldapi.core.problems import ValidationFailed
from fieldapi.core.scope import Actor

# The scope rule for photos is registered there, and the lookup in ``attach`` relies on it.
from fieldapi.photos import access  # noqa: F401
from fieldapi.photos.flags import Limits, judge
from fieldapi.photos.models import Photo, PhotoUse


def attach(
    *,
    db: Session,
    actor: Actor,
    photo_id: uuid.UUID,
    subject_type: str,
    subject_id: uuid.UUID,
    building: Building,
    taken_for: datetime,
    limits: Limits,
    pointer: str,
) -> PhotoUse:
    """Attach a verified photo the actor can see to a record of ``building``, judging its flags.

    Attaching the same photo to the same record again is harmless. A photo still uploading
    is refused here (``pointer`` names the field); callers that may wait for photos check first.
    """
    photo = db.scalar(scope.scoped(actor, Photo).where(Photo.id == photo_id))
    if photo is None or photo.status != "verified":
        raise ValidationFailed.field(pointer, "No verified photo of yours with this id.")
    existing = db.scalar(
        select(PhotoUse).where(
            PhotoUse.photo_id == photo.id,
            PhotoUse.subject_type == subject_type,
            PhotoUse.subject_id == subject_id,
        )
    )
    if existing is not None:
        return existing
    flags, details = judge(
        db,
        photo=photo,
        building=building,
        subject=(subject_type, subject_id),
        taken_for=taken_for,
        limits=limits,
    )
    use = PhotoUse(
        photo_id=photo.id,
        subject_type=subject_type,
        subject_id=subject_id,
        building_id=building.id,
        attached_by=actor.user_id,
        flags=flags,
        flag_details=details,
    )
    db.add(use)
    db.flush()
    return use


def release_uses(
    *,
    db: Session,
    building_id: uuid.UUID,
    subject_types: tuple[str, ...],
    keep: set[tuple[uuid.UUID, uuid.UUID]],
) -> None:
    """Drop a building's uses of these kinds that its file no longer names.

    ``keep`` holds (photo id, subject id) pairs still in the file: a replaced statement
    photo, or an equipment item re-sent under a new id, leaves no stale use behind to be
    mistaken for an earlier use of the same photo.
    """
    uses = db.scalars(
        select(PhotoUse).where(
            PhotoUse.building_id == building_id, PhotoUse.subject_type.in_(subject_types)
        )
    )
    for use in uses:
        if (use.photo_id, use.subject_id) not in keep:
            db.delete(use)
    db.flush()
