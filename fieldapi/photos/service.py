"""The photo pipeline: upload slot, upload, verification, and who may see what.

A photo row moves ``pending → stored → verified | rejected``. Reading the store and
decoding the image happen outside any database transaction; the row's status says how
far a photo got, so a crash in between leaves a row that ``photos gc`` can finish or
remove, and a retried request simply carries on.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from fieldapi.audit import service as audit
from fieldapi.buildings.models import Building
from fieldapi.core import scope
from fieldapi.core.db import created_once, utcnow
from fieldapi.core.permissions import can
from fieldapi.core.problems import Conflict, NotFound, Problem, ValidationFailed
from fieldapi.core.scope import Actor
from fieldapi.photos.flags import Limits, judge
from fieldapi.photos.imaging.rejections import ImageRejected
from fieldapi.photos.imaging.single_decode import process
from fieldapi.photos.models import Photo, PhotoUse
from storage import BlobStore, TooLarge, UploadInstruction

SPOOL_IN_MEMORY = 8 * 1024 * 1024
CHUNK = 256 * 1024
MIB = 1024 * 1024


# Called with (db, photo) once a photo is verified: records waiting for it carry on.
_VERIFIED_LISTENERS: list[Callable[[Session, Photo], None]] = []


def on_verified(listener: Callable[[Session, Photo], None]) -> None:
    if listener not in _VERIFIED_LISTENERS:
        _VERIFIED_LISTENERS.append(listener)


@dataclass(frozen=True)
class Slot:
    photo: Photo
    upload: UploadInstruction | None  # None: upload through the API's own content route
    created: bool


def _photo_clause(actor: Actor):
    """The uploader sees their photo; once attached, everyone in scope of its building.

    Asked of each photo through its own uses (an index lookup), since photos are read by id
    or in pages of keys that stop early; never by hashing every use in the actor's buildings
    first, which costs the same for a page as for them all. OFFSET 0 keeps PostgreSQL from
    turning the EXISTS into that hash."""
    in_scope_use = (
        select(PhotoUse.photo_id)
        .join(Building, Building.id == PhotoUse.building_id)
        .where(PhotoUse.photo_id == Photo.id, scope.where(actor, Building))
        .offset(0)
    )
    return or_(Photo.uploader_id == actor.user_id, in_scope_use.exists())


scope.register(Photo, _photo_clause)


def get_photo(*, db: Session, actor: Actor, photo_id: uuid.UUID) -> Photo:
    photo = db.scalar(scope.scoped(actor, Photo).where(Photo.id == photo_id))
    if photo is None:
        raise NotFound()
    return photo


def own_photo(*, db: Session, actor: Actor, photo_id: uuid.UUID) -> Photo:
    """Uploading and completing are for the uploader alone (and admins)."""
    stmt = scope.scoped(actor, Photo).where(Photo.id == photo_id)
    if not actor.is_admin:
        stmt = stmt.where(Photo.uploader_id == actor.user_id)
    photo = db.scalar(stmt)
    if photo is None:
        raise NotFound()
    return photo


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


def uses_of(db: Session, photo: Photo) -> list[PhotoUse]:
    return list(
        db.scalars(
            select(PhotoUse).where(PhotoUse.photo_id == photo.id).order_by(PhotoUse.attached_at)
        )
    )


def uses_seen_by(db: Session, actor: Actor, photo: Photo) -> list[dict[str, Any]]:
    """The photo's uses on buildings in the actor's scope, with their flags.

    A use elsewhere is not shown, and an earlier use that a flag names is named only when
    its building is in scope too; out of scope, the flag keeps how alike the photos are.
    """
    uses = list(
        db.scalars(
            select(PhotoUse)
            .join(Building, Building.id == PhotoUse.building_id)
            .where(PhotoUse.photo_id == photo.id, scope.where(actor, Building))
            .order_by(PhotoUse.attached_at)
        )
    )
    named = {
        uuid.UUID(earlier["building_id"])
        for use in uses
        for earlier in use.flag_details.get("reused", ())
    }
    visible = (
        set(
            db.scalars(
                select(Building.id).where(Building.id.in_(named), scope.where(actor, Building))
            )
        )
        if named
        else set()
    )
    return [
        {
            "subject_type": use.subject_type,
            "subject_id": use.subject_id,
            "building_id": use.building_id,
            "attached_at": use.attached_at,
            "flags": use.flags,
            "flag_details": _details_seen(use.flag_details, visible),
        }
        for use in uses
    ]


def _details_seen(details: dict[str, Any], visible: set[uuid.UUID]) -> dict[str, Any]:
    if "reused" not in details:
        return details
    reused = [
        earlier
        if uuid.UUID(earlier["building_id"]) in visible
        else {"match": earlier["match"], "distance": earlier["distance"]}
        for earlier in details["reused"]
    ]
    return {**details, "reused": reused}


def flags_of(uses: list[dict[str, Any]]) -> list[str]:
    return sorted({flag for use in uses for flag in use["flags"]})


def may_see_original(actor: Actor) -> bool:
    return can(actor.role, "photo.original.read")


def open_original(*, db: Session, actor: Actor, photo_id: uuid.UUID) -> Photo:
    """Evidence access: in scope, verified, and written to the audit trail."""
    photo = get_photo(db=db, actor=actor, photo_id=photo_id)
    if photo.status != "verified":
        raise NotFound()
    uses = uses_of(db, photo)
    audit.record(
        db,
        actor=actor,
        action="photo.original.read",
        object_type="photo",
        object_id=photo.id,
        building_id=uses[0].building_id if uses else None,
        details={"sha256": photo.sha256},
    )
    return photo


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
