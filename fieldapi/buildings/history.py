"""The file's versions: every change kept with who made it and what changed, and read back
newest first."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.audit import service as audit
from fieldapi.buildings.models import Building, BuildingChange
from fieldapi.buildings.present import FILE_FIELDS
from fieldapi.core.pagination import paginate
from fieldapi.core.scope import Actor


def record(db: Session, building: Building, actor: Actor, action: str, before, after) -> None:
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


def list_changes(
    *, db: Session, building_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[BuildingChange], str | None]:
    """The file's versions, newest first (the caller has found the building in scope)."""
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
