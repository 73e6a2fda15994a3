"""Who may see a photo, and reading one.

The uploader sees their photo; once it is attached, everyone in scope of its building does
(the scope rule registered here). Lookups by id, a photo's uses and flags as an actor is
shown them, and evidence access to the original, which is written to the audit trail.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from fieldapi.audit import service as audit
from fieldapi.buildings.models import Building
from fieldapi.core import scope
from fieldapi.core.permissions import can
from fieldapi.core.problems import NotFound
from fieldapi.core.scope import Actor
from fieldapi.photos.models import Photo, PhotoUse


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
