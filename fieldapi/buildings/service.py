"""The building file: create, read, change (versioned), list, and its change history."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from fieldapi.audit import service as audit
from fieldapi.buildings import contents, history
from fieldapi.buildings.models import Building
from fieldapi.buildings.present import FILE_FIELDS, jsonable, snapshot
from fieldapi.core import scope
from fieldapi.core.db import created_once, utcnow
from fieldapi.core.etag import make_etag, require_match
from fieldapi.core.permissions import can
from fieldapi.core.problems import Conflict, Forbidden, NotFound, ValidationFailed
from fieldapi.core.scope import Actor
from fieldapi.photos.flags import Limits

DEFAULT_PHOTO_LIMITS = Limits()

# Fields only people who place buildings on the map may change.
PLACEMENT_FIELDS = ("code", "grid_id")
# Fields stored as they are sent; the rest are nested and handled one by one.
NESTED_FIELDS = ("location", "responsibility", "statement", "units", "shops", "equipment")
SIMPLE_FIELDS = tuple(f for f in FILE_FIELDS if f not in (*PLACEMENT_FIELDS, *NESTED_FIELDS))


def building_etag(building: Building) -> str:
    return make_etag("building", building.id, building.version)


def update_derived(
    db: Session, building_id: uuid.UUID, changed: ColumnElement[bool], **values: Any
) -> bool:
    """Set columns the file derives from field work (risk, last inspection, next self-check).

    One UPDATE under the row's lock, made only where ``changed`` holds, moving the version
    on so readers' ETags change; no compare-and-set on a version read earlier, because
    nobody edited the file: a concurrent edit or derivation is simply ordered before or
    after this one. Whether a row changed is returned.
    """
    table = Building.__table__
    result = db.execute(
        update(table)
        .where(table.c.id == building_id, changed)
        .values(**values, version=table.c.version + 1)
    )
    loaded = db.identity_map.get(Session.identity_key(Building, building_id))
    if loaded is not None and result.rowcount:
        db.expire(loaded)
    return bool(result.rowcount)


def get_building(*, db: Session, actor: Actor, building_id: uuid.UUID) -> Building:
    building = db.scalar(scope.scoped(actor, Building).where(Building.id == building_id))
    if building is None:
        raise NotFound()
    return building


def _check_grid(db: Session, actor: Actor, grid_id: uuid.UUID) -> None:
    """The grid must exist and lie in the actor's scope; either way the answer is the same."""
    from fieldapi.areas.models import Area

    stmt = select(Area.id).where(Area.id == grid_id, Area.kind == "grid")
    if not actor.is_admin:
        stmt = stmt.where(Area.id.in_(scope.visible_grid_ids(actor)))
    if db.scalar(stmt) is None:
        raise ValidationFailed.field("/grid_id", "No such grid in your area.")


def _check_code_free(db: Session, code: str, building_id: uuid.UUID) -> None:
    taken = db.scalar(select(Building.id).where(Building.code == code, Building.id != building_id))
    if taken is not None:
        raise Conflict(
            "Another building has this code.",
            errors=[{"pointer": "/code", "detail": "Already used by another building."}],
        )


def _check_personal_data(actor: Actor, data: dict[str, Any]) -> None:
    if "units" in data and not can(actor.role, "building.residents.write"):
        raise Forbidden("Your role does not register residents.")


def _apply(building: Building, data: dict[str, Any]) -> None:
    for name in (*PLACEMENT_FIELDS, *SIMPLE_FIELDS):
        if name in data:
            setattr(building, name, data[name])
    if "location" in data:
        building.lat = data["location"]["lat"]
        building.lon = data["location"]["lon"]
    if "responsibility" in data:
        building.responsibility = jsonable(data["responsibility"])
    if "statement" in data:
        statement = data["statement"]
        if "signed_on" in statement:
            building.statement_signed_on = statement["signed_on"]
        if "photo_id" in statement:
            building.statement_photo_id = statement["photo_id"]
    contents.replace_children(building, data)


def _attach_document_photos(db: Session, actor: Actor, building: Building, limits: Limits) -> None:
    """The signed statement and equipment records point at verified photos the actor sees."""
    from fieldapi.photos.attachments import attach, release_uses

    named = {(item.photo_id, item.id) for item in building.equipment if item.photo_id}
    if building.statement_photo_id:
        named.add((building.statement_photo_id, building.id))
    release_uses(
        db=db,
        building_id=building.id,
        subject_types=("building_statement", "equipment"),
        keep=named,
    )

    common = {
        "db": db,
        "actor": actor,
        "building": building,
        "taken_for": utcnow(),
        "limits": limits,
    }
    if building.statement_photo_id:
        attach(
            photo_id=building.statement_photo_id,
            subject_type="building_statement",
            subject_id=building.id,
            pointer="/statement/photo_id",
            **common,
        )
    for index, item in enumerate(building.equipment):
        if item.photo_id:
            attach(
                photo_id=item.photo_id,
                subject_type="equipment",
                subject_id=item.id,
                pointer=f"/equipment/{index}/photo_id",
                **common,
            )


def create_building(
    *, db: Session, actor: Actor, data: dict[str, Any], photo_limits: Limits = DEFAULT_PHOTO_LIMITS
) -> Building:
    """Open a building file (see ``open_building``) and return it."""
    building, _created = open_building(db=db, actor=actor, data=data, photo_limits=photo_limits)
    return building


@created_once(Building)
def open_building(
    *, db: Session, actor: Actor, data: dict[str, Any], photo_limits: Limits = DEFAULT_PHOTO_LIMITS
) -> tuple[Building, bool]:
    """Open a building file in one of the actor's grids; True when it is new.

    A client id that already names a file the actor can see, with the same content, gives
    that file back unchanged (a phone retrying after a lost answer); any other reuse of the
    id is a conflict.
    """
    _check_personal_data(actor, data)
    data = contents.normalize(data)
    contents.check_child_ids(data)
    building_id = data.get("id") or uuid.uuid4()
    existing = db.get(Building, building_id)
    if existing is not None:
        visible = db.scalar(scope.scoped(actor, Building).where(Building.id == building_id))
        # A due date left empty was filled in when the file was opened.
        defaulted = {"id"} | (
            {"next_self_check_due_at"} if data.get("next_self_check_due_at") is None else set()
        )
        sent = jsonable({k: v for k, v in data.items() if k not in defaulted})
        if visible is None or not contents.same_content(jsonable(snapshot(visible)), sent):
            raise Conflict("A building with this id already exists.")
        return visible, False
    _check_grid(db, actor, data["grid_id"])
    _check_code_free(db, data["code"], building_id)
    contents.check_child_ids_free(db, building_id, data)
    building = Building(id=building_id, created_by=actor.user_id)
    _apply(building, data)
    if building.next_self_check_due_at is None:
        interval = building.self_check_interval_days or 30
        building.self_check_interval_days = interval
        building.next_self_check_due_at = utcnow() + timedelta(days=interval)
    db.add(building)
    db.flush()
    _attach_document_photos(db, actor, building, photo_limits)
    history.record(db, building, actor, "created", None, jsonable(snapshot(building)))
    db.flush()
    return building, True


def update_building(
    *,
    db: Session,
    actor: Actor,
    building_id: uuid.UUID,
    data: dict[str, Any],
    if_match: str | None,
    photo_limits: Limits = DEFAULT_PHOTO_LIMITS,
) -> Building:
    building = get_building(db=db, actor=actor, building_id=building_id)
    require_match(if_match, building_etag(building))
    _check_personal_data(actor, data)
    data = contents.normalize(data)
    contents.check_child_ids(data)
    if not can(actor.role, "building.create"):
        moved = [f for f in PLACEMENT_FIELDS if f in data and data[f] != getattr(building, f)]
        if moved:
            raise Forbidden(f"Your role cannot change {', '.join(moved)}.")
    if "grid_id" in data and data["grid_id"] != building.grid_id:
        _check_grid(db, actor, data["grid_id"])
    if "code" in data and data["code"] != building.code:
        _check_code_free(db, data["code"], building.id)
    contents.check_child_ids_free(db, building.id, data)
    before = jsonable(snapshot(building))
    _apply(building, data)
    after = jsonable(snapshot(building))
    if after == before:
        return building  # nothing changed: no new version
    audit.hold_head(db)
    building.updated_at = utcnow()
    db.flush()
    _attach_document_photos(db, actor, building, photo_limits)
    history.record(db, building, actor, "updated", before, after)
    db.flush()
    return building


def list_changes(
    *, db: Session, actor: Actor, building_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list, str | None]:
    """The file's versions, newest first; 404 when the building is not in scope."""
    get_building(db=db, actor=actor, building_id=building_id)
    return history.list_changes(db=db, building_id=building_id, limit=limit, cursor=cursor)
