"""The building file as plain data: for answers, and for the versioned change history.

Personal data (residents' id numbers and phones) is masked for roles that do not register
people: grid staff, the fire protection office and fire police see ``4403**********1234``
and ``138****5678``; admins, officers and the building's own manager see it whole.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fieldapi.buildings.models import Building
from fieldapi.core.db import utcnow
from fieldapi.core.permissions import can
from fieldapi.core.scope import Actor

RESPONSIBILITY_ROLES = ("owner", "manager", "safety_officer")

# Fields of the file that the change history records, in the shape the client sends them.
FILE_FIELDS = (
    "code",
    "name",
    "address",
    "grid_id",
    "location",
    "use_type",
    "floors_above",
    "floors_below",
    "height_m",
    "structure",
    "year_built",
    "floor_area_m2",
    "responsibility",
    "statement",
    "units",
    "shops",
    "equipment",
    "self_check_interval_days",
    "next_self_check_due_at",
    "notes",
)


def reveals_personal_data(actor: Actor) -> bool:
    return can(actor.role, "resident.pii.read")


def mask_id_number(value: str | None) -> str | None:
    if not value:
        return value
    keep = 4 if len(value) > 10 else 1
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    digits = value.replace(" ", "").replace("-", "")
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def jsonable(value: Any) -> Any:
    """Dates, times and ids as strings, recursively: how the history stores values."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def resident_data(r) -> dict[str, Any]:
    """A resident, unmasked; ``r`` is the model or a row with the same names."""
    return {
        "id": r.id,
        "name": r.name,
        "id_number": r.id_number,
        "phone": r.phone,
        "kind": r.kind,
        "is_tenant": r.is_tenant,
        "registered_on": r.registered_on,
    }


def shop_data(s) -> dict[str, Any]:
    """A shop of the building; ``s`` is the model or a row with the same names."""
    return {
        "id": s.id,
        "name": s.name,
        "licence_number": s.licence_number,
        "business_type": s.business_type,
        "operator_name": s.operator_name,
        "contact_phone": s.contact_phone,
        "floor": s.floor,
    }


def units_data(building: Building) -> list[dict[str, Any]]:
    return [
        {
            "id": unit.id,
            "label": unit.label,
            "floor": unit.floor,
            "area_m2": unit.area_m2,
            "use": unit.use,
            "residents": [
                resident_data(r) for r in sorted(unit.residents, key=lambda r: (r.name, str(r.id)))
            ],
        }
        for unit in sorted(building.units, key=lambda u: (u.floor, u.label, str(u.id)))
    ]


def mask_units(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **unit,
            "residents": [
                {**r, "id_number": mask_id_number(r["id_number"]), "phone": mask_phone(r["phone"])}
                for r in unit["residents"]
            ],
        }
        for unit in units
    ]


def snapshot(building: Building) -> dict[str, Any]:
    """Every field of the file, unmasked: what answers show and the history compares.

    Units, residents, shops and equipment come in one fixed order, decided here rather than
    by the database's collation, so that the same file always gives the same snapshot.
    """
    today = utcnow().date()
    return {
        "code": building.code,
        "name": building.name,
        "address": building.address,
        "grid_id": building.grid_id,
        "location": {"lat": building.lat, "lon": building.lon},
        "use_type": building.use_type,
        "floors_above": building.floors_above,
        "floors_below": building.floors_below,
        "height_m": building.height_m,
        "structure": building.structure,
        "year_built": building.year_built,
        "floor_area_m2": building.floor_area_m2,
        # Every role named, null when nobody is: the same shape on every file.
        "responsibility": {
            role: (building.responsibility or {}).get(role) for role in RESPONSIBILITY_ROLES
        },
        "statement": {
            "signed_on": building.statement_signed_on,
            "photo_id": building.statement_photo_id,
        },
        "units": units_data(building),
        "shops": [shop_data(s) for s in sorted(building.shops, key=lambda s: (s.name, str(s.id)))],
        "equipment": [
            {
                "id": e.id,
                "kind": e.kind,
                "count": e.count,
                "location": e.location,
                "last_service_on": e.last_service_on,
                "expires_on": e.expires_on,
                "photo_id": e.photo_id,
                "expired": is_expired(e.expires_on, today),
            }
            for e in sorted(building.equipment, key=lambda e: (e.kind, str(e.id)))
        ],
        "self_check_interval_days": building.self_check_interval_days,
        "next_self_check_due_at": building.next_self_check_due_at,
        "notes": building.notes,
    }


def is_expired(expires_on: date | None, today: date) -> bool:
    return bool(expires_on and expires_on < today)


def is_overdue(due: datetime | None, now: datetime) -> bool:
    return due is not None and due < now


def set_clock_fields(data: dict[str, Any], now: datetime) -> None:
    """Set what the clock alone changes in a file (``file_data``'s shape, or the same
    read back from its JSON text): a self-check falling overdue, equipment expiring."""
    today = now.date()
    due = data["self_check"]["next_due_at"]
    if isinstance(due, str):
        due = datetime.fromisoformat(due)
    data["self_check"]["overdue"] = is_overdue(due, now)
    expired = 0
    for item in data["equipment"]:
        expires_on = item["expires_on"]
        if isinstance(expires_on, str):
            expires_on = date.fromisoformat(expires_on)
        item["expired"] = is_expired(expires_on, today)
        expired += item["count"] if item["expired"] else 0
    data["expired_equipment"] = expired


def clock_changes_at(data: dict[str, Any], now: datetime) -> datetime | None:
    """The first moment after ``now`` at which ``set_clock_fields`` would change ``data``."""
    moments = []
    due = data["self_check"]["next_due_at"]
    if due is not None and not is_overdue(due, now):
        moments.append(due)
    for item in data["equipment"]:
        if item["expires_on"] is not None and not item["expired"]:
            # Expired from the first day after it.
            moments.append(datetime.combine(item["expires_on"] + timedelta(days=1), time(), UTC))
    return min(moments, default=None)


def file_data(building: Building, *, masked: bool) -> dict[str, Any]:
    """The whole file, with residents' numbers masked or whole."""
    data = snapshot(building)
    if masked:
        data["units"] = mask_units(data["units"])
    data.update(
        id=building.id,
        self_check={
            "interval_days": building.self_check_interval_days,
            "next_due_at": building.next_self_check_due_at,
        },
        risk_level=building.risk_level,
        last_inspected_at=building.last_inspected_at,
        personal_data_masked=masked,
        version=building.version,
        created_at=building.created_at,
        updated_at=building.updated_at,
    )
    set_clock_fields(data, utcnow())
    return data


def present(building: Building, actor: Actor) -> dict[str, Any]:
    """The whole file for one reader, with personal data masked where their role needs it."""
    return file_data(building, masked=not reveals_personal_data(actor))


def present_change(change, actor: Actor) -> dict[str, Any]:
    changes = change.changes
    if "units" in changes and not reveals_personal_data(actor):
        changes = {
            **changes,
            "units": {
                k: mask_units(v) if v is not None else None for k, v in changes["units"].items()
            },
        }
    return {
        "id": change.id,
        "version": change.version,
        "action": change.action,
        "actor_id": change.actor_id,
        "at": change.at,
        "changes": changes,
    }
