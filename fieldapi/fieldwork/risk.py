"""A building's risk level, from its live hazards; kept on the building for lists."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.buildings import service as buildings
from fieldapi.buildings.models import Building
from fieldapi.core.db import utcnow
from fieldapi.fieldwork.models import Hazard
from fieldapi.review import routing

RISK_BY_SEVERITY = {None: "low", "minor": "medium", "major": "high", "critical": "critical"}
RISK_ORDER = ("low", "medium", "high", "critical")


def refresh_risk(db: Session, building_id: uuid.UUID) -> None:
    """Risk from the building's live hazards: the worst severity, one level up if any is
    overdue. Kept on the building so lists can filter and sort by it."""
    live = db.execute(
        select(Hazard.severity, Hazard.due_at).where(
            Hazard.building_id == building_id, Hazard.status.in_(("open", "rectifying"))
        )
    ).all()
    worst = routing.worst([severity for severity, _due in live])
    level = RISK_BY_SEVERITY[worst]
    now = utcnow()
    if any(due is not None and due < now for _severity, due in live):
        level = RISK_ORDER[min(RISK_ORDER.index(level) + 1, len(RISK_ORDER) - 1)]
    buildings.update_derived(db, building_id, Building.risk_level != level, risk_level=level)


def refresh_all_risks(db: Session) -> int:
    """Recompute every building's risk (for hazards that became overdue); how many changed."""
    before = dict(db.execute(select(Building.id, Building.risk_level)).all())
    for building_id in before:
        refresh_risk(db, building_id)
    after = dict(db.execute(select(Building.id, Building.risk_level)).all())
    return sum(after.get(building_id) != level for building_id, level in before.items())
