"""Records submitted while their photos are still uploading: which photos they wait for.

A record whose photos are not all verified is left ``waiting_photos`` with one wait per
photo; ``photo_arrival`` submits it when the last of them is verified.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fieldapi.core.scope import Actor
from fieldapi.fieldwork.models import PhotoWait
from fieldapi.photos.models import Photo


def unverified(found: dict[uuid.UUID, Photo]) -> list[uuid.UUID]:
    """The named photos not verified yet: what a submitted record has to wait for."""
    return sorted((p.id for p in found.values() if p.status != "verified"), key=str)


def wait_for(
    db: Session, actor: Actor, subject_type: str, subject_id: uuid.UUID, photo_ids: list
) -> None:
    """The record waits for these photos (and no others), submitted by this actor."""
    stop_waiting(db, subject_type, subject_id)
    for photo_id in photo_ids:
        db.add(
            PhotoWait(
                subject_type=subject_type,
                subject_id=subject_id,
                photo_id=photo_id,
                actor_id=actor.user_id,
            )
        )
    db.flush()


def stop_waiting(db: Session, subject_type: str, subject_id: uuid.UUID) -> None:
    db.execute(
        delete(PhotoWait).where(
            PhotoWait.subject_type == subject_type, PhotoWait.subject_id == subject_id
        )
    )


def waiting_for(db: Session, subject_type: str, subject_id: uuid.UUID) -> list[uuid.UUID]:
    """The photos a record still waits for."""
    return list(
        db.scalars(
            select(PhotoWait.photo_id)
            .where(PhotoWait.subject_type == subject_type, PhotoWait.subject_id == subject_id)
            .order_by(PhotoWait.photo_id)
        )
    )
