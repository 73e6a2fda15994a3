"""The building file: create, read, change (versioned), list, and its change history."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from fieldapi.audit import service as audit
from fieldapi.buildings.models import Building, BuildingChange, Equipment, Resident, Shop, Unit
from fieldapi.buildings.present import FILE_FIELDS, jsonable, snapshot
from fieldapi.core import scope
from fieldapi.core.db import created_once, utcnow
from fieldapi.core.etag import make_etag, require_match
from fieldapi.core.pagination import paginate
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


def _replace_children(building: Building, data: dict[str, Any]) -> None:
    """A list sent replaces the list; items keep their ids when the client sends them."""
    if "units" in data:
        building.units = [
            Unit(
                id=u.get("id") or uuid.uuid4(),
                label=u["label"],
                floor=u["floor"],
                area_m2=u.get("area_m2"),
                use=u.get("use"),
                residents=[
                    Resident(
                        id=r.get("id") or uuid.uuid4(),
                        name=r["name"],
                        id_number=r.get("id_number"),
                        phone=r.get("phone"),
                        kind=r["kind"],
                        is_tenant=r.get("is_tenant", False),
                        registered_on=r.get("registered_on"),
                    )
                    for r in u.get("residents", [])
                ],
            )
            for u in data["units"]
        ]
    if "shops" in data:
        building.shops = [
            Shop(id=s.get("id") or uuid.uuid4(), **{k: v for k, v in s.items() if k != "id"})
            for s in data["shops"]
        ]
    if "equipment" in data:
        building.equipment = [
            Equipment(id=e.get("id") or uuid.uuid4(), **{k: v for k, v in e.items() if k != "id"})
            for e in data["equipment"]
        ]


def _normalize(data: dict[str, Any]) -> dict[str, Any]:
    """One spelling for values a client can write several ways (time zones, the check letter)."""
    if data.get("next_self_check_due_at") is not None:
        data["next_self_check_due_at"] = data["next_self_check_due_at"].astimezone(UTC)
    for unit in data.get("units", []):
        for resident in unit.get("residents", []):
            if resident.get("id_number"):
                resident["id_number"] = resident["id_number"].upper()
    return data


def _sent_ids(data: dict[str, Any]) -> dict[str, list[tuple[str, uuid.UUID]]]:
    """The ids the client chose for the items of the file, each with its JSON Pointer."""
    sent: dict[str, list[tuple[str, uuid.UUID]]] = {
        name: [
            (f"/{name}/{i}/id", item["id"])
            for i, item in enumerate(data.get(name, []))
            if item.get("id")
        ]
        for name in ("units", "shops", "equipment")
    }
    sent["residents"] = [
        (f"/units/{i}/residents/{j}/id", resident["id"])
        for i, unit in enumerate(data.get("units", []))
        for j, resident in enumerate(unit.get("residents", []))
        if resident.get("id")
    ]
    return sent


def _check_child_ids(data: dict[str, Any]) -> None:
    """Ids inside one file must be distinct, or two rows would claim one identity."""
    for name, ids in _sent_ids(data).items():
        seen: set[uuid.UUID] = set()
        for pointer, item_id in ids:
            if item_id in seen:
                raise ValidationFailed.field(pointer, f"Each item of {name} needs its own id.")
            seen.add(item_id)


_ID_BATCH = 500


def _check_child_ids_free(db: Session, building_id: uuid.UUID, data: dict[str, Any]) -> None:
    """An id sent for a unit, resident, shop or equipment item must not be another building's."""
    owners = {
        "units": lambda ids: select(Unit.id).where(
            Unit.id.in_(ids), Unit.building_id != building_id
        ),
        "shops": lambda ids: select(Shop.id).where(
            Shop.id.in_(ids), Shop.building_id != building_id
        ),
        "equipment": lambda ids: select(Equipment.id).where(
            Equipment.id.in_(ids), Equipment.building_id != building_id
        ),
        "residents": lambda ids: (
            select(Resident.id)
            .join(Unit, Unit.id == Resident.unit_id)
            .where(Resident.id.in_(ids), Unit.building_id != building_id)
        ),
    }
    for name, sent in _sent_ids(data).items():
        for start in range(0, len(sent), _ID_BATCH):
            batch = sent[start : start + _ID_BATCH]
            taken = set(db.scalars(owners[name]([item_id for _p, item_id in batch])))
            for pointer, item_id in batch:
                if item_id in taken:
                    raise Conflict(
                        "An id in this file belongs to another building.",
                        errors=[{"pointer": pointer, "detail": "Already used elsewhere."}],
                    )


def _same_content(stored: Any, sent: Any) -> bool:
    """True when every value the client sent is what is stored. Items the client sent
    without an id match on their other fields; lists match in any order."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(
            _same_content(stored.get(key), value)
            for key, value in sent.items()
            if not (key == "id" and value is None)
        )
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return False
        remaining = list(stored)
        for item in sent:
            match = next((i for i, c in enumerate(remaining) if _same_content(c, item)), None)
            if match is None:
                return False
            del remaining[match]
        return True
    return stored == sent


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
    _replace_children(building, data)


def _record(db: Session, building: Building, actor: Actor, action: str, before, after) -> None:
    changes = {
        name: {"old": before.get(name) if before else None, "new": after[name]}
        for name in FILE_FIELDS
        if before is None or before.get(name) != after[name]
    }
    db.add(
        BuildingChange(
            building_id=building.id,
            version=building.version,
            actor_id=actor.user_id,
            action=action,
            changes=changes,
        )
    )
    audit.record(
        db,
        actor=actor,
        action="building.create" if action == "created" else "building.update",
        object_type="building",
        object_id=building.id,
        building_id=building.id,
        details={"version": building.version, "changes": changes},
    )


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
    data = _normalize(data)
    _check_child_ids(data)
    building_id = data.get("id") or uuid.uuid4()
    existing = db.get(Building, building_id)
    if existing is not None:
        visible = db.scalar(scope.scoped(actor, Building).where(Building.id == building_id))
        # A due date left empty was filled in when the file was opened.
        defaulted = {"id"} | (
            {"next_self_check_due_at"} if data.get("next_self_check_due_at") is None else set()
        )
        sent = jsonable({k: v for k, v in data.items() if k not in defaulted})
        if visible is None or not _same_content(jsonable(snapshot(visible)), sent):
            raise Conflict("A building with this id already exists.")
        return visible, False
    _check_grid(db, actor, data["grid_id"])
    _check_code_free(db, data["code"], building_id)
    _check_child_ids_free(db, building_id, data)
    building = Building(id=building_id, created_by=actor.user_id)
    _apply(building, data)
    if building.next_self_check_due_at is None:
        interval = building.self_check_interval_days or 30
        building.self_check_interval_days = interval
        building.next_self_check_due_at = utcnow() + timedelta(days=interval)
    db.add(building)
    db.flush()
    _attach_document_photos(db, actor, building, photo_limits)
    _record(db, building, actor, "created", None, jsonable(snapshot(building)))
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
    data = _normalize(data)
    _check_child_ids(data)
    if not can(actor.role, "building.create"):
        moved = [f for f in PLACEMENT_FIELDS if f in data and data[f] != getattr(building, f)]
        if moved:
            raise Forbidden(f"Your role cannot change {', '.join(moved)}.")
    if "grid_id" in data and data["grid_id"] != building.grid_id:
        _check_grid(db, actor, data["grid_id"])
    if "code" in data and data["code"] != building.code:
        _check_code_free(db, data["code"], building.id)
    _check_child_ids_free(db, building.id, data)
    before = jsonable(snapshot(building))
    _apply(building, data)
    after = jsonable(snapshot(building))
    if after == before:
        return building  # nothing changed: no new version
    audit.hold_head(db)
    building.updated_at = utcnow()
    db.flush()
    _attach_document_photos(db, actor, building, photo_limits)
    _record(db, building, actor, "updated", before, after)
    db.flush()
    return building


def list_buildings(
    *, db: Session, actor: Actor, filters: dict[str, Any], limit: int, cursor: str | None
) -> tuple[list[Building], str | None]:
    stmt = scope.scoped(actor, Building)
    for name in ("grid_id", "use_type", "risk_level"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Building, name) == filters[name])
    overdue = filters.get("overdue")
    if overdue is True:
        stmt = stmt.where(Building.next_self_check_due_at < utcnow())
    elif overdue is False:
        stmt = stmt.where(
            or_(
                Building.next_self_check_due_at.is_(None),
                Building.next_self_check_due_at >= utcnow(),
            )
        )
    if filters.get("q"):
        term = filters["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{term}%"
        stmt = stmt.where(
            or_(
                Building.code.ilike(pattern, escape="\\"),
                Building.address.ilike(pattern, escape="\\"),
                Building.name.ilike(pattern, escape="\\"),
            )
        )
    return paginate(
        db,
        stmt,
        order_by=[Building.code],
        key=lambda b: [b.code],
        parse=[str],
        limit=limit,
        cursor=cursor,
    )


def list_changes(
    *, db: Session, actor: Actor, building_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[BuildingChange], str | None]:
    """The file's versions, newest first."""
    get_building(db=db, actor=actor, building_id=building_id)
    stmt = select(BuildingChange).where(BuildingChange.building_id == building_id)
    return paginate(
        db,
        stmt,
        order_by=[BuildingChange.version],
        key=lambda c: [c.version],
        parse=[int],
        limit=limit,
        cursor=cursor,
        descending=True,
    )
