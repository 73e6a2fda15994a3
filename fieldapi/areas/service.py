"""The area tree. Admins shape it; everyone reads the part they work in."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.areas.models import PARENT_KIND, Area
from fieldapi.audit import service as audit
from fieldapi.core import scope
from fieldapi.core.db import created_once, utcnow
from fieldapi.core.etag import make_etag, require_match
from fieldapi.core.pagination import paginate
from fieldapi.core.problems import Conflict, NotFound, ValidationFailed
from fieldapi.core.scope import Actor


def area_etag(area: Area) -> str:
    return make_etag("area", area.id, area.version)


def get_area(*, db: Session, actor: Actor, area_id: uuid.UUID, kind: str | None = None) -> Area:
    stmt = scope.scoped(actor, Area).where(Area.id == area_id)
    if kind:
        stmt = stmt.where(Area.kind == kind)
    area = db.scalar(stmt)
    if area is None:
        raise NotFound()
    return area


def list_areas(
    *,
    db: Session,
    actor: Actor,
    kind: str | None,
    parent_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Area], str | None]:
    """Areas in scope, in tree order (each node follows its parent)."""
    stmt = scope.scoped(actor, Area)
    if kind:
        stmt = stmt.where(Area.kind == kind)
    if parent_id:
        stmt = stmt.where(Area.parent_id == parent_id)
    return paginate(
        db,
        stmt,
        order_by=[Area.path],
        key=lambda a: [a.path],
        parse=[str],
        limit=limit,
        cursor=cursor,
    )


def _audit(db: Session, actor: Actor | None, action: str, area: Area) -> None:
    details = {
        "name": area.name,
        "kind": area.kind,
        "code": area.code,
        "parent_id": area.parent_id,
        "boundary": area.boundary,
    }
    audit.record(
        db, actor=actor, action=action, object_type="area", object_id=area.id, details=details
    )


def create_area(*, db: Session, data: dict[str, Any], actor: Actor | None = None) -> Area:
    kind = data["kind"]
    parent_kind = PARENT_KIND[kind]
    parent = None
    if parent_kind is None:
        if data.get("parent_id"):
            raise ValidationFailed.field("/parent_id", "A district has no parent.")
    else:
        parent = db.get(Area, data["parent_id"]) if data.get("parent_id") else None
        if parent is None or parent.kind != parent_kind:
            raise ValidationFailed.field("/parent_id", f"A {kind} belongs to a {parent_kind}.")
    if data.get("boundary") is not None and kind != "grid":
        raise ValidationFailed.field("/boundary", "Only grids carry a boundary.")
    area_id = data.get("id") or uuid.uuid4()
    if db.get(Area, area_id) is not None:
        raise Conflict("An area with this id exists.")
    _check_unique(db, parent_id=parent.id if parent else None, name=data["name"], code=data["code"])
    area = Area(
        id=area_id,
        name=data["name"],
        kind=kind,
        code=data.get("code"),
        parent_id=parent.id if parent else None,
        path=(parent.path if parent else "/") + f"{area_id}/",
        boundary=data.get("boundary"),
    )
    db.add(area)
    db.flush()
    _audit(db, actor, "area.create", area)
    return area


@created_once(Area)
def open_area(
    *, db: Session, data: dict[str, Any], actor: Actor | None = None
) -> tuple[Area, bool]:
    """Create an area, or, when its client-chosen id exists with the same content, answer
    the stored one (``False``: nothing created). Other content under that id is a conflict."""
    existing = db.get(Area, data["id"]) if data.get("id") else None
    if existing is None:
        return create_area(db=db, data=data, actor=actor), True
    sent = (data["name"], data["kind"], data.get("code"), data.get("parent_id"))
    stored = (existing.name, existing.kind, existing.code, existing.parent_id)
    if sent == stored and data.get("boundary") == existing.boundary:
        return existing, False
    raise Conflict("An area with this id exists, with other content.")


def _check_unique(db: Session, *, parent_id, name: str, code: str | None, exclude=None) -> None:
    same_name = select(Area.id).where(
        Area.parent_id.is_not_distinct_from(parent_id), Area.name == name
    )
    if exclude is not None:
        same_name = same_name.where(Area.id != exclude)
    if db.scalar(same_name) is not None:
        raise Conflict("An area of that name already exists here.")
    if code:
        same_code = select(Area.id).where(Area.code == code)
        if exclude is not None:
            same_code = same_code.where(Area.id != exclude)
        if db.scalar(same_code) is not None:
            raise Conflict("That area code is taken.")


def update_area(
    *, db: Session, actor: Actor, area_id: uuid.UUID, data: dict[str, Any], if_match: str | None
) -> Area:
    area = get_area(db=db, actor=actor, area_id=area_id)
    require_match(if_match, area_etag(area))
    if data.get("boundary") is not None and area.kind != "grid":
        raise ValidationFailed.field("/boundary", "Only grids carry a boundary.")
    _check_unique(
        db,
        parent_id=area.parent_id,
        name=data.get("name", area.name),
        code=data.get("code", area.code),
        exclude=area.id,
    )
    for name in ("name", "code", "boundary"):
        if name in data:
            setattr(area, name, data[name])
    area.updated_at = utcnow()
    db.flush()
    _audit(db, actor, "area.update", area)
    return area
