"""The photos a record names, as evidence: checked when named (the actor's own, not
rejected), attached to the record and judged when it is submitted, and their flags."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building
from fieldapi.core import scope
from fieldapi.core.problems import ValidationFailed
from fieldapi.core.scope import Actor
from fieldapi.photos import attachments
from fieldapi.photos.flags import Limits
from fieldapi.photos.models import Photo, PhotoUse


def photos_named(
    db: Session, actor: Actor, named: list[tuple[str, uuid.UUID]]
) -> dict[uuid.UUID, Photo]:
    """The photos a record names, each one the actor can see and not rejected."""
    ids = {photo_id for _pointer, photo_id in named}
    found = (
        {p.id: p for p in db.scalars(scope.scoped(actor, Photo).where(Photo.id.in_(ids)))}
        if ids
        else {}
    )
    for pointer, photo_id in named:
        photo = found.get(photo_id)
        if photo is None:
            raise ValidationFailed.field(pointer, "No photo of yours with this id.")
        if photo.status == "rejected":
            raise ValidationFailed.field(
                pointer, f"This photo was refused ({photo.rejection_reason}); take another."
            )
    return found


def photo_pointers(photo_ids: list[uuid.UUID]) -> list[tuple[str, uuid.UUID]]:
    return [(f"/photo_ids/{n}", photo_id) for n, photo_id in enumerate(photo_ids)]


def attach_all(
    db: Session,
    actor: Actor,
    *,
    subject_type: str,
    subject_id: uuid.UUID,
    building: Building,
    taken_for: datetime,
    named: list[tuple[str, uuid.UUID]],
    limits: Limits,
) -> None:
    """Attach the photos a record names, and drop uses of photos it no longer names."""
    keep = {photo_id for _pointer, photo_id in named}
    for use in db.scalars(
        select(PhotoUse).where(
            PhotoUse.subject_type == subject_type, PhotoUse.subject_id == subject_id
        )
    ):
        if use.photo_id not in keep:
            db.delete(use)
    db.flush()
    for pointer, photo_id in named:
        attachments.attach(
            db=db,
            actor=actor,
            photo_id=photo_id,
            subject_type=subject_type,
            subject_id=subject_id,
            building=building,
            taken_for=taken_for,
            limits=limits,
            pointer=pointer,
        )
