"""The items of a building file — units with their residents, shops, fire equipment — as a
phone sends them: each list sent replaces the stored one, items keep the ids the client
chose, and those ids are checked before anything is written."""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building, Equipment, Resident, Shop, Unit
from fieldapi.core.problems import Conflict, ValidationFailed


def replace_children(building: Building, data: dict[str, Any]) -> None:
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


def normalize(data: dict[str, Any]) -> dict[str, Any]:
    """One spelling for values a client can write several ways (time zones, the check letter)."""
    if data.get("next_self_check_due_at") is not None:
        data["next_self_check_due_at"] = data["next_self_check_due_at"].astimezone(UTC)
    for unit in data.get("units", []):
        for resident in unit.get("residents", []):
            if resident.get("id_number"):
                resident["id_number"] = resident["id_number"].upper()
    return data


def sent_ids(data: dict[str, Any]) -> dict[str, list[tuple[str, uuid.UUID]]]:
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


def check_child_ids(data: dict[str, Any]) -> None:
    """Ids inside one file must be distinct, or two rows would claim one identity."""
    for name, ids in sent_ids(data).items():
        seen: set[uuid.UUID] = set()
        for pointer, item_id in ids:
            if item_id in seen:
                raise ValidationFailed.field(pointer, f"Each item of {name} needs its own id.")
            seen.add(item_id)


_ID_BATCH = 500


def check_child_ids_free(db: Session, building_id: uuid.UUID, data: dict[str, Any]) -> None:
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
    for name, sent in sent_ids(data).items():
        for start in range(0, len(sent), _ID_BATCH):
            batch = sent[start : start + _ID_BATCH]
            taken = set(db.scalars(owners[name]([item_id for _p, item_id in batch])))
            for pointer, item_id in batch:
                if item_id in taken:
                    raise Conflict(
                        "An id in this file belongs to another building.",
                        errors=[{"pointer": pointer, "detail": "Already used elsewhere."}],
                    )


def same_content(stored: Any, sent: Any) -> bool:
    """True when every value the client sent is what is stored. Items the client sent
    without an id match on their other fields; lists match in any order."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(
            same_content(stored.get(key), value)
            for key, value in sent.items()
            if not (key == "id" and value is None)
        )
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return False
        remaining = list(stored)
        for item in sent:
            match = next((i for i, c in enumerate(remaining) if same_content(c, item)), None)
            if match is None:
                return False
            del remaining[match]
        return True
    return stored == sent
