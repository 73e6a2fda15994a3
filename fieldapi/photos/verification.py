"""Completing an upload: the stored bytes checked against their slot and decoded, and the
photo verified with its derivatives written, or rejected.

A photo row moves ``pending → stored → verified | rejected``. Reading the store and
decoding the image happen outside any database transaction; the row's status says how
far a photo got, so a crash in between leaves a row that ``photos gc`` can finish or
remove, and a retried request simply carries on. Records waiting for a photo hear of its
verification through ``on_verified``.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC

from sqlalchemy.orm import Session

from fieldapi.core.db import utcnow
from fieldapi.core.problems import Conflict, ValidationFailed
from fieldapi.core.scope import Actor
from fieldapi.photos.access import own_photo
from fieldapi.photos.imaging.rejections import ImageRejected
from fieldapi.photos.imaging.single_decode import process
from fieldapi.photos.models import Photo
from storage import BlobStore

SPOOL_IN_MEMORY = 8 * 1024 * 1024
CHUNK = 256 * 1024

# Called with (db, photo) once a photo is verified: records waiting for it carry on.
_VERIFIED_LISTENERS: list[Callable[[Session, Photo], None]] = []


def on_verified(listener: Callable[[Session, Photo], None]) -> None:
    if listener not in _VERIFIED_LISTENERS:
        _VERIFIED_LISTENERS.append(listener)


def _reject(db: Session, blobs: BlobStore, photo: Photo, reason: str, detail: str):
    """Remove the bytes, keep the verdict (committed: the 422 that follows rolls back)."""
    for key in (photo.original_key, photo.display_key, photo.thumbnail_key):
        blobs.delete(key)
    photo.status = "rejected"
    photo.rejection_reason = reason
    photo.rejection_detail = detail[:255]
    db.commit()
    return ValidationFailed(detail, reason=reason)


def _spool_and_hash(blobs: BlobStore, key: str) -> tuple[tempfile.SpooledTemporaryFile, str, int]:
    digest = hashlib.sha256()
    size = 0
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    with blobs.open(key) as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            spool.write(chunk)
    spool.seek(0)
    return spool, digest.hexdigest(), size


def complete(*, db: Session, blobs: BlobStore, actor: Actor, photo_id: uuid.UUID) -> Photo:
    """Verify the uploaded bytes and write the derivatives. Completing twice is harmless."""
    photo = own_photo(db=db, actor=actor, photo_id=photo_id)
    if photo.status == "verified":
        return photo
    if photo.status == "rejected":
        raise ValidationFailed(photo.rejection_detail, reason=photo.rejection_reason)
    info = blobs.head(photo.original_key)
    if info is None:
        raise Conflict("The photo has not arrived yet. Upload it, then complete.")
    if photo.status == "pending":
        # Mark that the bytes exist before the slow part, so gc knows to finish the job.
        photo.status = "stored"
        db.commit()
    return verify_stored(db=db, blobs=blobs, photo=photo, stored_size=info.size)


def verify_stored(*, db: Session, blobs: BlobStore, photo: Photo, stored_size: int) -> Photo:
    """Check a stored original against its slot and decode it; keep it, or reject it."""
    if stored_size != photo.size:
        raise _reject(db, blobs, photo, "size-mismatch", "The upload is not the size declared.")
    spool, sha256, size = _spool_and_hash(blobs, photo.original_key)
    with spool:
        if size != photo.size:
            raise _reject(db, blobs, photo, "size-mismatch", "The upload is not the size declared.")
        if sha256 != photo.sha256:
            raise _reject(
                db,
                blobs,
                photo,
                "hash-mismatch",
                "The photo changed on the way: its SHA-256 differs.",
            )
        try:
            facts, display, thumbnail = process(spool, declared_type=photo.content_type)
        except ImageRejected as exc:
            raise _reject(db, blobs, photo, exc.reason, exc.detail) from None
    blobs.put(photo.display_key, display.data, content_type=display.content_type)
    blobs.put(photo.thumbnail_key, thumbnail.data, content_type=thumbnail.content_type)
    photo.status = "verified"
    photo.format = facts.format
    photo.width, photo.height = facts.width, facts.height
    # Stored and answered in UTC, as every other time: the offset the camera wrote is not kept.
    photo.captured_at = facts.captured_at.astimezone(UTC) if facts.captured_at else None
    photo.lat, photo.lon = facts.location if facts.location else (None, None)
    photo.device = facts.device
    photo.phash = facts.phash
    photo.verified_at = utcnow()
    db.flush()
    for listener in _VERIFIED_LISTENERS:
        listener(db, photo)
    return photo
