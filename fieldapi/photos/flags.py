"""How a photo's use is judged: where and when it was taken, and whether it was used before.

Flags never block a submission; they tell reviewers where to look. These are the usual
ways a self-check is faked: a photo from elsewhere, an old photo, the same photo twice.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building
from fieldapi.photos.imaging.perceptual_hash import hamming
from fieldapi.photos.models import Photo, PhotoUse

EARTH_RADIUS_M = 6_371_008.8
NEAR_DUPLICATE_DISTANCE = 6
MAX_REUSE_DETAILS = 5


@dataclass(frozen=True)
class Limits:
    """How far from the building and how long before the record a photo may be taken."""

    max_distance_m: int = 200
    max_age_hours: int = 72

    @classmethod
    def from_settings(cls, settings) -> Limits:
        return cls(settings.photo_max_distance_m, settings.photo_max_age_hours)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def _earlier_uses(
    db: Session, photo: Photo, building: Building, subject: tuple[str, uuid.UUID]
) -> list[dict[str, Any]]:
    """Uses elsewhere of the same bytes (anywhere) or of a near-identical image (same grid)."""
    found: list[dict[str, Any]] = []
    identical = db.execute(
        select(PhotoUse, Photo.id)
        .join(Photo, Photo.id == PhotoUse.photo_id)
        .where(Photo.sha256 == photo.sha256)
        .order_by(PhotoUse.attached_at)
    ).all()
    for use, photo_id in identical:
        if (use.subject_type, use.subject_id) != subject:
            found.append(_reuse(use, photo_id, "identical", 0))
    if photo.phash:
        similar = db.execute(
            select(PhotoUse, Photo.id, Photo.phash)
            .join(Photo, Photo.id == PhotoUse.photo_id)
            .join(Building, Building.id == PhotoUse.building_id)
            .where(
                Building.grid_id == building.grid_id,
                Photo.sha256 != photo.sha256,
                Photo.phash.is_not(None),
            )
            .order_by(PhotoUse.attached_at)
        ).all()
        for use, photo_id, phash in similar:
            distance = hamming(photo.phash, phash)
            if (
                distance <= NEAR_DUPLICATE_DISTANCE
                and (use.subject_type, use.subject_id) != subject
            ):
                found.append(_reuse(use, photo_id, "similar", distance))
    return found[:MAX_REUSE_DETAILS]


def _reuse(use: PhotoUse, photo_id: uuid.UUID, match: str, distance: int) -> dict[str, Any]:
    return {
        "photo_id": str(photo_id),
        "subject_type": use.subject_type,
        "subject_id": str(use.subject_id),
        "building_id": str(use.building_id),
        "match": match,
        "distance": distance,
    }


def judge(
    db: Session,
    *,
    photo: Photo,
    building: Building,
    subject: tuple[str, uuid.UUID],
    taken_for: datetime,
    limits: Limits,
) -> tuple[list[str], dict[str, Any]]:
    """The flags for using ``photo`` as evidence about ``building`` at ``taken_for``."""
    flags: list[str] = []
    details: dict[str, Any] = {}
    if photo.lat is None or photo.lon is None:
        flags.append("no_location")
    else:
        metres = distance_m(photo.lat, photo.lon, building.lat, building.lon)
        details["distance_m"] = round(metres)
        if metres > limits.max_distance_m:
            flags.append("far_from_building")
    if photo.captured_at is None:
        flags.append("no_capture_time")
    else:
        hours = (taken_for - photo.captured_at).total_seconds() / 3600
        details["age_hours"] = round(hours, 1)
        if hours > limits.max_age_hours:
            flags.append("stale")
    reused = _earlier_uses(db, photo, building, subject)
    if reused:
        flags.append("reused")
        details["reused"] = reused
    return flags, details
