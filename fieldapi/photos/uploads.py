"""Upload slots, and the API's own upload route.

A phone declares a photo (id, SHA-256, size, content type) and gets a slot: instructions
to send the bytes to the store, or to the API, before the slot expires. Asking again for
the same photo, or for the same bytes, answers the photo already there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.core.db import created_once, utcnow
from fieldapi.core.problems import Conflict, Problem, ValidationFailed
from fieldapi.core.scope import Actor
from fieldapi.photos.models import Photo
from storage import BlobStore, TooLarge, UploadInstruction

MIB = 1024 * 1024


@dataclass(frozen=True)
class Slot:
    photo: Photo
    upload: UploadInstruction | None  # None: upload through the API's own content route
    created: bool


def _same_request(photo: Photo, data: dict[str, Any]) -> bool:
    return (photo.sha256, photo.size, photo.content_type) == (
        data["sha256"],
        data["size"],
        data["content_type"],
    )


@created_once(Photo)
def request_slot(
    *,
    db: Session,
    blobs: BlobStore,
    actor: Actor,
    data: dict[str, Any],
    slot_minutes: int,
    max_size: int,
) -> Slot:
    """Open an upload slot, or answer the photo this phone already sent.

    ``max_size`` bounds the declared size: the slot is what lets the bytes in, so a photo
    larger than the service keeps is refused before any of it is sent.
    """
    if data["size"] > max_size:
        limit = f"{max_size // MIB} MB" if max_size >= MIB else f"{max_size} bytes"
        raise ValidationFailed.field(
            "/size", f"A photo may be at most {limit}. Send a smaller photo."
        )
    expires = utcnow() + timedelta(minutes=slot_minutes)
    existing = db.get(Photo, data["id"])
    if existing is not None:
        if existing.uploader_id != actor.user_id or not _same_request(existing, data):
            raise Conflict("A different photo already has this id.")
        return _reopen(db, blobs, existing, expires, created=False)
    same_bytes = db.scalar(
        select(Photo).where(
            Photo.uploader_id == actor.user_id,
            Photo.sha256 == data["sha256"],
            Photo.status != "rejected",
        )
    )
    if same_bytes is not None:
        return _reopen(db, blobs, same_bytes, expires, created=False)
    photo = Photo(
        id=data["id"],
        uploader_id=actor.user_id,
        sha256=data["sha256"],
        size=data["size"],
        content_type=data["content_type"],
        status="pending",
        upload_expires_at=expires,
    )
    db.add(photo)
    db.flush()
    return _reopen(db, blobs, photo, expires, created=True)


def _reopen(db: Session, blobs: BlobStore, photo: Photo, expires, *, created: bool) -> Slot:
    """A pending photo gets fresh upload instructions; a finished one needs none."""
    if photo.status != "pending":
        return Slot(photo, None, created)
    photo.upload_expires_at = expires
    db.flush()
    seconds = max(int((expires - utcnow()).total_seconds()), 1)
    instruction = blobs.upload_instruction(
        photo.original_key, content_type=photo.content_type, size=photo.size, expires_in=seconds
    )
    return Slot(photo, instruction, created)


def receive_upload(
    *, blobs: BlobStore, photo: Photo, stream: BinaryIO, content_type: str | None
) -> Photo:
    """The API's own upload route: stream the body to the store, never more than declared."""
    if photo.status != "pending":
        raise Conflict("This photo is already uploaded.")
    if photo.upload_expires_at < utcnow():
        raise Conflict("The upload slot has expired. Ask for a new one.")
    if content_type != photo.content_type:
        raise ValidationFailed.field(
            "/content_type", f"Send the photo as {photo.content_type}, as declared."
        )
    try:
        info = blobs.put(
            photo.original_key, stream, content_type=photo.content_type, max_size=photo.size
        )
    except TooLarge:
        raise Problem("The upload is larger than declared.", slug="payload-too-large") from None
    if info.size != photo.size:
        blobs.delete(photo.original_key)
        raise ValidationFailed.field("/size", "The upload is smaller than declared.")
    return photo
