"""Buildings as sync sends them, with their units, residents, shops and equipment.

Residents' id numbers and phone numbers are masked unless the reader's role may see them
whole; the database-built documents mask them the same way (``fieldapi.buildings.present``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building, Equipment, Resident, Shop, Unit
from fieldapi.buildings.present import (
    mask_id_number,
    mask_phone,
    resident_data,
    reveals_personal_data,
    shop_data,
)
from fieldapi.core.scope import Actor
from fieldapi.sync.pg_json import id_and_doc, json_array, json_list, json_location, json_object
from fieldapi.sync.reading import Entity
from fieldapi.sync.rows import Rows, chunks, fragment, location, one_of, raw_json

# --- shaped in Python ----------------------------------------------------------------------


def _building_columns() -> Select:
    b = Building
    return select(
        b.id,
        b.code,
        b.name,
        b.address,
        b.grid_id,
        b.lat,
        b.lon,
        b.use_type,
        b.floors_above,
        b.floors_below,
        b.height_m,
        b.structure,
        b.year_built,
        b.floor_area_m2,
        raw_json(b.responsibility).label("responsibility"),
        b.statement_signed_on,
        b.statement_photo_id,
        b.self_check_interval_days,
        b.next_self_check_due_at,
        b.last_inspected_at,
        b.risk_level,
        b.notes,
        b.version,
    )


def _children(db: Session, stmt_for, ids: list[uuid.UUID]) -> dict[uuid.UUID, list]:
    found: dict[uuid.UUID, list] = defaultdict(list)
    for chunk in chunks(ids):
        for row in db.connection().execute(stmt_for(chunk)):
            found[row[0]].append(row)
    return found


def _shape_buildings(db: Session, actor: Actor, rows: Rows) -> list[dict]:
    ids = [row.id for row in rows]
    whole = reveals_personal_data(actor)
    units = _children(
        db,
        lambda c: (
            select(Unit.building_id, Unit.id, Unit.label, Unit.floor, Unit.area_m2, Unit.use)
            .where(one_of(db, Unit.building_id, c))
            .order_by(Unit.building_id, Unit.floor, Unit.label, Unit.id)
        ),
        ids,
    )
    unit_ids = [u.id for found in units.values() for u in found]
    residents = _children(
        db,
        lambda c: (
            select(
                Resident.unit_id,
                Resident.id,
                Resident.name,
                Resident.id_number,
                Resident.phone,
                Resident.kind,
                Resident.is_tenant,
                Resident.registered_on,
            )
            .where(one_of(db, Resident.unit_id, c))
            .order_by(Resident.unit_id, Resident.name, Resident.id)
        ),
        unit_ids,
    )
    shops = _children(
        db,
        lambda c: (
            select(
                Shop.building_id,
                Shop.id,
                Shop.name,
                Shop.licence_number,
                Shop.business_type,
                Shop.operator_name,
                Shop.contact_phone,
                Shop.floor,
            )
            .where(one_of(db, Shop.building_id, c))
            .order_by(Shop.building_id, Shop.name, Shop.id)
        ),
        ids,
    )
    equipment = _children(
        db,
        lambda c: (
            select(
                Equipment.building_id,
                Equipment.id,
                Equipment.kind,
                Equipment.count,
                Equipment.location,
                Equipment.last_service_on,
                Equipment.expires_on,
                Equipment.photo_id,
            )
            .where(one_of(db, Equipment.building_id, c))
            .order_by(Equipment.building_id, Equipment.kind, Equipment.id)
        ),
        ids,
    )

    def person(r) -> dict:
        data = resident_data(r)
        if not whole:
            data["id_number"] = mask_id_number(r.id_number)
            data["phone"] = mask_phone(r.phone)
        return data

    out = []
    for r in rows:
        out.append(
            {
                "id": r.id,
                "code": r.code,
                "name": r.name,
                "address": r.address,
                "grid_id": r.grid_id,
                "location": location(r.lat, r.lon),
                "use_type": r.use_type,
                "floors_above": r.floors_above,
                "floors_below": r.floors_below,
                "height_m": r.height_m,
                "structure": r.structure,
                "year_built": r.year_built,
                "floor_area_m2": r.floor_area_m2,
                "responsibility": fragment(r.responsibility),
                "statement_signed_on": r.statement_signed_on,
                "statement_photo_id": r.statement_photo_id,
                "self_check_interval_days": r.self_check_interval_days,
                "next_self_check_due_at": r.next_self_check_due_at,
                "last_inspected_at": r.last_inspected_at,
                "risk_level": r.risk_level,
                "notes": r.notes,
                "version": r.version,
                "units": [
                    {
                        "id": u.id,
                        "label": u.label,
                        "floor": u.floor,
                        "area_m2": u.area_m2,
                        "use": u.use,
                        "residents": [person(p) for p in residents.get(u.id, ())],
                    }
                    for u in units.get(r.id, ())
                ],
                "shops": [shop_data(s) for s in shops.get(r.id, ())],
                "equipment": [
                    {
                        "id": e.id,
                        "kind": e.kind,
                        "count": e.count,
                        "location": e.location,
                        "last_service_on": e.last_service_on,
                        "expires_on": e.expires_on,
                        "photo_id": e.photo_id,
                    }
                    for e in equipment.get(r.id, ())
                ],
            }
        )
    return out


# --- built by PostgreSQL ------------------------------------------------------------


def _masked_id_number(column) -> ColumnElement:
    keep = case((func.length(column) > 10, 4), else_=1)
    masked = (
        func.left(column, keep)
        .concat(func.repeat("*", func.length(column) - 2 * keep))
        .concat(func.right(column, keep))
    )
    return case((column == "", column), else_=masked)


def _masked_phone(column) -> ColumnElement:
    digits = func.replace(func.replace(column, " ", ""), "-", "")
    size = func.length(digits)
    masked = case(
        (size < 7, func.repeat("*", size)),
        else_=func.left(digits, 3).concat(func.repeat("*", size - 7)).concat(func.right(digits, 4)),
    )
    return case((column == "", column), else_=masked)


def _building_document(actor: Actor, ids: ColumnElement) -> Select:
    return building_document(reveals_personal_data(actor), ids)


def building_document(whole: bool, ids: ColumnElement) -> Select:
    """Buildings' documents, with residents' numbers whole or masked."""
    b, u, p, s, e = Building, Unit, Resident, Shop, Equipment
    person = json_object(
        ("id", p.id, "id"),
        ("name", p.name, "text"),
        ("id_number", p.id_number if whole else _masked_id_number(p.id_number), "text"),
        ("phone", p.phone if whole else _masked_phone(p.phone), "text"),
        ("kind", p.kind, "text"),
        ("is_tenant", p.is_tenant, "number"),
        ("registered_on", p.registered_on, "date"),
    )
    residents = json_list(select(json_array(person, p.name, p.id)).where(p.unit_id == u.id))
    unit = json_object(
        ("id", u.id, "id"),
        ("label", u.label, "text"),
        ("floor", u.floor, "number"),
        ("area_m2", u.area_m2, "number"),
        ("use", u.use, "text"),
        ("residents", residents, "raw"),
    )
    shop = json_object(
        ("id", s.id, "id"),
        ("name", s.name, "text"),
        ("licence_number", s.licence_number, "text"),
        ("business_type", s.business_type, "text"),
        ("operator_name", s.operator_name, "text"),
        ("contact_phone", s.contact_phone, "text"),
        ("floor", s.floor, "number"),
    )
    item = json_object(
        ("id", e.id, "id"),
        ("kind", e.kind, "text"),
        ("count", e.count, "number"),
        ("location", e.location, "text"),
        ("last_service_on", e.last_service_on, "date"),
        ("expires_on", e.expires_on, "date"),
        ("photo_id", e.photo_id, "id"),
    )
    doc = json_object(
        ("id", b.id, "id"),
        ("code", b.code, "text"),
        ("name", b.name, "text"),
        ("address", b.address, "text"),
        ("grid_id", b.grid_id, "id"),
        ("location", json_location(b), "raw"),
        ("use_type", b.use_type, "text"),
        ("floors_above", b.floors_above, "number"),
        ("floors_below", b.floors_below, "number"),
        ("height_m", b.height_m, "number"),
        ("structure", b.structure, "text"),
        ("year_built", b.year_built, "number"),
        ("floor_area_m2", b.floor_area_m2, "number"),
        ("responsibility", b.responsibility, "json"),
        ("statement_signed_on", b.statement_signed_on, "date"),
        ("statement_photo_id", b.statement_photo_id, "id"),
        ("self_check_interval_days", b.self_check_interval_days, "number"),
        ("next_self_check_due_at", b.next_self_check_due_at, "time"),
        ("last_inspected_at", b.last_inspected_at, "time"),
        ("risk_level", b.risk_level, "text"),
        ("notes", b.notes, "text"),
        ("version", b.version, "number"),
        (
            "units",
            json_list(
                select(json_array(unit, u.floor, u.label, u.id)).where(u.building_id == b.id)
            ),
            "raw",
        ),
        (
            "shops",
            json_list(select(json_array(shop, s.name, s.id)).where(s.building_id == b.id)),
            "raw",
        ),
        (
            "equipment",
            json_list(select(json_array(item, e.kind, e.id)).where(e.building_id == b.id)),
            "raw",
        ),
    )
    return id_and_doc(b, doc, ids)


BUILDINGS = Entity(
    "buildings",
    Building,
    lambda: Building.id,
    _building_columns,
    _shape_buildings,
    document=_building_document,
)
