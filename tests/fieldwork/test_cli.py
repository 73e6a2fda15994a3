"""Operator commands for field work: publishing the default checklists, refreshing risk."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update

from fieldapi.buildings.models import USE_TYPES, Building
from fieldapi.checklists.models import ChecklistTemplate
from fieldapi.core.db import utcnow
from fieldapi.fieldwork.models import Hazard


def cli(app, *args: str):
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def test_install_templates_publishes_each_use_type_once(app, db):
    first = cli(app, "fieldwork", "install-templates")
    assert first.exit_code == 0, first.output
    assert f"published {len(USE_TYPES)} default templates" in first.output
    again = cli(app, "fieldwork", "install-templates")
    assert "published 0 default templates" in again.output
    assert db.scalar(select(func.count()).select_from(ChecklistTemplate)) == len(USE_TYPES)


def test_refresh_risk_raises_a_building_whose_hazard_became_overdue(app, db, field, world):
    answer = field.submitted("mgr1", failed=("LIGHT-01",))  # minor: medium while in time
    building_id = world.buildings["B1"]
    assert db.get(Building, building_id).risk_level == "medium"
    past = utcnow() - timedelta(hours=1)
    db.execute(
        update(Hazard).where(Hazard.id == uuid.UUID(answer["hazard_ids"][0])).values(due_at=past)
    )
    db.commit()
    result = cli(app, "fieldwork", "refresh-risk")
    assert result.exit_code == 0, result.output
    assert "risk level changed for 1 buildings" in result.output
    db.expire_all()
    assert db.get(Building, building_id).risk_level == "high"
