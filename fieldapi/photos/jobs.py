"""Housekeeping: expired upload slots, photos left half-verified, objects nobody references."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from fieldapi.core.problems import Problem
from fieldapi.photos.models import Photo
from fieldapi.photos.verification import verify_stored
from storage import BlobStore, StorageError

log = logging.getLogger(__name__)

# A photo stuck in "stored" this long was abandoned by a crashed or cut-off request.
STUCK_AFTER = timedelta(minutes=30)


@dataclass
class GcReport:
    expired_slots: int = 0
    arrived_slots: int = 0
    finished_verified: int = 0
    finished_rejected: int = 0
    orphan_objects: int = 0
    failed: int = 0

    def lines(self) -> list[str]:
        return [
            f"expired upload slots removed: {self.expired_slots}",
            f"expired upload slots kept, all bytes arrived: {self.arrived_slots}",
            f"unfinished photos verified: {self.finished_verified}",
            f"unfinished photos rejected: {self.finished_rejected}",
            f"unfinished photos that failed (kept for the next run): {self.failed}",
            f"unreferenced objects deleted: {self.orphan_objects}",
        ]


def _photo_id_of(key: str) -> uuid.UUID | None:
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "photos":
        return None
    try:
        return uuid.UUID(parts[1])
    except ValueError:
        return None


def collect_garbage(*, db: Session, blobs: BlobStore, now: datetime) -> GcReport:
    """One pass; each step commits on its own, so an interrupted run keeps what it did."""
    report = GcReport()
    _remove_expired_slots(db, blobs, now, report)
    _finish_stuck(db, blobs, now, report)
    _remove_orphans(db, blobs, report)
    return report


def _remove_expired_slots(db: Session, blobs: BlobStore, now: datetime, report: GcReport) -> None:
    """Slots never completed in time.

    When all the declared bytes arrived, the phone only lost its answer or its signal
    before completing: the photo is kept as ``stored``, to be verified when the phone
    completes it or by a later run. Otherwise the slot and any partial bytes go. The row
    goes first, and only while it is still an expired pending slot: a request that
    completed it meanwhile keeps its photo. An object left by an interrupted run has no
    row any more and is removed as an orphan.
    """
    still_expired = (Photo.status == "pending", Photo.upload_expires_at < now)
    expired = select(Photo).where(*still_expired)
    for photo in db.scalars(expired).all():
        info = blobs.head(photo.original_key)
        if info is not None and info.size == photo.size:
            kept = db.execute(
                update(Photo)
                .where(Photo.id == photo.id, *still_expired)
                .values(status="stored")
                .execution_options(synchronize_session=False)
            )
            db.commit()
            report.arrived_slots += kept.rowcount
            continue
        removed = db.execute(
            delete(Photo)
            .where(Photo.id == photo.id, *still_expired)
            .execution_options(synchronize_session=False)
        )
        db.commit()
        if removed.rowcount:
            blobs.delete(photo.original_key)
            report.expired_slots += 1


def _finish_stuck(db: Session, blobs: BlobStore, now: datetime, report: GcReport) -> None:
    """Photos whose bytes arrived but whose verification never finished."""
    stuck = select(Photo).where(
        Photo.status == "stored", Photo.upload_expires_at < now - STUCK_AFTER
    )
    for photo in db.scalars(stuck).all():
        info = blobs.head(photo.original_key)
        try:
            verify_stored(db=db, blobs=blobs, photo=photo, stored_size=info.size if info else -1)
            db.commit()
            report.finished_verified += 1
        except Problem:
            report.finished_rejected += 1  # the rejection is committed by the verifier
        except StorageError:
            raise  # the store is failing: the next run carries on
        except Exception:
            # One photo that cannot be finished must not stop the clean-up of the others.
            db.rollback()
            log.exception("photo %s could not be verified", photo.id)
            report.failed += 1


def _remove_orphans(db: Session, blobs: BlobStore, report: GcReport) -> None:
    """Objects under photos/ whose photo is gone or was rejected."""
    known: dict[uuid.UUID, str] = {}
    for key in blobs.iter_keys("photos/"):
        photo_id = _photo_id_of(key)
        if photo_id is not None and photo_id not in known:
            status = db.scalar(select(Photo.status).where(Photo.id == photo_id))
            known[photo_id] = status or "missing"
        if photo_id is None or known[photo_id] in ("missing", "rejected"):
            blobs.delete(key)
            report.orphan_objects += 1
    db.rollback()
