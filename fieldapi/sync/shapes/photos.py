"""Photos as sync sends them: their metadata, and the flags of their uses in the reader's
buildings. Not kept per building: a photo belongs to the buildings that use it."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import ColumnElement, Select, Text, cast, distinct, func, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, aliased

from fieldapi.buildings.models import Building
from fieldapi.core import scope
from fieldapi.core.scope import Actor
from fieldapi.photos.models import Photo, PhotoUse
from fieldapi.sync.pg_json import among, constant, id_and_doc, json_location, json_object
from fieldapi.sync.reading import Entity
from fieldapi.sync.rows import Rows, chunks, location, one_of


def _photo_columns() -> Select:
    p = Photo
    return select(
        p.id,
        p.status,
        p.content_type,
        p.size,
        p.width,
        p.height,
        p.captured_at,
        p.lat,
        p.lon,
    )


def _shape_photos(db: Session, actor: Actor, rows: Rows) -> list[dict]:
    in_scope = select(Building.id).where(scope.where(actor, Building))
    flags: dict[uuid.UUID, set[str]] = defaultdict(set)
    for chunk in chunks([r.id for r in rows]):
        stmt = select(PhotoUse.photo_id, PhotoUse.flags).where(
            one_of(db, PhotoUse.photo_id, chunk), PhotoUse.building_id.in_(in_scope)
        )
        for photo_id, found in db.connection().execute(stmt):
            flags[photo_id].update(found or ())
    return [
        {
            "id": r.id,
            "status": r.status,
            "content_type": r.content_type,
            "size": r.size,
            "width": r.width,
            "height": r.height,
            "captured_at": r.captured_at,
            "location": location(r.lat, r.lon),
            "flags": sorted(flags[r.id]),
        }
        for r in rows
    ]


def _photo_document(actor: Actor, ids: ColumnElement) -> Select:
    p, u = Photo, aliased(PhotoUse)
    # The flags of each photo's uses in the actor's buildings, each once, in Python's string
    # order; gathered for all the photos asked for at once.
    flag = func.jsonb_array_elements_text(u.flags).table_valued("value").alias("flag")
    each = cast(func.to_json(flag.c.value), Text).collate("C")
    joined = func.string_agg(distinct(each), aggregate_order_by(constant(","), each))
    flags = (
        select(u.photo_id, constant("[").concat(joined).concat(constant("]")).label("flags"))
        .select_from(u)
        .join(flag, true())
        .where(
            among(u.photo_id, ids),
            u.building_id.in_(select(Building.id).where(scope.where(actor, Building))),
        )
        .group_by(u.photo_id)
        .subquery("flags")
    )
    doc = json_object(
        ("id", p.id, "id"),
        ("status", p.status, "text"),
        ("content_type", p.content_type, "text"),
        ("size", p.size, "number"),
        ("width", p.width, "number"),
        ("height", p.height, "number"),
        ("captured_at", p.captured_at, "time"),
        ("location", json_location(p), "raw"),
        ("flags", func.coalesce(flags.c.flags, constant("[]")), "raw"),
    )
    return id_and_doc(p, doc, ids).select_from(p).outerjoin(flags, flags.c.photo_id == p.id)


PHOTOS = Entity("photos", Photo, None, _photo_columns, _shape_photos, document=_photo_document)
