"""Building files answered from their stored text: exact, scoped, and right as the clock moves."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from fieldapi.buildings import files, present
from fieldapi.buildings.models import Building, BuildingFile
from fieldapi.buildings.present import file_data
from fieldapi.buildings.schemas import BuildingSchema
from fieldapi.core.db import utcnow
from tests.buildings import VALID_ID_NUMBER, full_file


def _built_now(db, building_id, *, masked: bool) -> dict:
    """The file as the schema dumps it when built from the rows this moment."""
    building = db.get(Building, uuid.UUID(str(building_id)))
    db.refresh(building)
    return json.loads(json.dumps(BuildingSchema().dump(file_data(building, masked=masked))))


def _open(client, world, as_user, **extra) -> dict:
    payload = full_file(world.areas["G1"], **extra)
    response = client.post("/api/v1/buildings", json=payload, headers=as_user("officer1"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_every_write_leaves_the_stored_file_exact(client, world, as_user, db):
    created = _open(client, world, as_user)
    etag = client.get(f"/api/v1/buildings/{created['id']}", headers=as_user("officer1")).headers[
        "ETag"
    ]
    units = created["units"]
    units[0]["residents"].append(
        {"name": "Wang Fang", "id_number": VALID_ID_NUMBER, "kind": "floating"}
    )
    changed = client.patch(
        f"/api/v1/buildings/{created['id']}",
        json={"units": units, "floors_above": 10},
        headers={**as_user("officer1"), "If-Match": etag},
    )
    assert changed.status_code == 200, changed.get_json()
    assert files.stale(db) == []
    kept = db.get(BuildingFile, uuid.UUID(created["id"]))
    assert kept.version == changed.get_json()["version"] == 2
    assert json.loads(kept.whole)["floors_above"] == 10


@pytest.mark.parametrize(("persona", "masked"), [("gw1", True), ("officer1", False)])
def test_the_answer_is_the_file_as_built_for_the_reader(
    client, world, as_user, db, persona, masked
):
    created = _open(client, world, as_user)
    response = client.get(f"/api/v1/buildings/{created['id']}", headers=as_user(persona))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body == _built_now(db, created["id"], masked=masked)
    assert body["personal_data_masked"] is masked
    number = body["units"][0]["residents"][0]["id_number"]
    assert ("*" in number) is masked


def test_a_file_without_stored_text_is_built_on_read(client, world, as_user, db):
    building_id = world.buildings["B1"]
    db.execute(BuildingFile.__table__.delete())
    db.commit()
    response = client.get(f"/api/v1/buildings/{building_id}", headers=as_user("gw1"))
    assert response.status_code == 200
    assert response.get_json() == _built_now(db, building_id, masked=True)


def test_text_of_another_version_is_not_served(client, world, as_user, db):
    building_id = world.buildings["B1"]
    # A change made around the application: the stored text still names version 1.
    db.execute(
        update(Building.__table__)
        .where(Building.__table__.c.id == building_id)
        .values(name="Renamed outside", version=Building.__table__.c.version + 1)
    )
    db.commit()
    body = client.get(f"/api/v1/buildings/{building_id}", headers=as_user("gw1")).get_json()
    assert body["name"] == "Renamed outside"
    assert body["version"] == 2


def test_the_clock_turns_equipment_expired_and_a_self_check_overdue(
    client, world, as_user, db, monkeypatch
):
    tomorrow = (utcnow() + timedelta(days=1)).date()
    created = _open(
        client,
        world,
        as_user,
        next_self_check_due_at=(utcnow() + timedelta(days=3)).isoformat(),
    )
    etag = client.get(f"/api/v1/buildings/{created['id']}", headers=as_user("officer1")).headers[
        "ETag"
    ]
    equipment = [
        {**{k: v for k, v in e.items() if k != "expired"}, "expires_on": tomorrow.isoformat()}
        for e in created["equipment"]
    ]
    patched = client.patch(
        f"/api/v1/buildings/{created['id']}",
        json={"equipment": equipment},
        headers={**as_user("officer1"), "If-Match": etag},
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["expired_equipment"] == 0
    kept = db.scalar(
        select(BuildingFile).where(BuildingFile.building_id == uuid.UUID(created["id"]))
    )
    assert kept.fresh_until.date() == tomorrow + timedelta(days=1)

    later = utcnow() + timedelta(days=5)
    for module in (files, present):
        monkeypatch.setattr(module, "utcnow", lambda: later)
    body = client.get(f"/api/v1/buildings/{created['id']}", headers=as_user("gw1")).get_json()
    assert body["self_check"]["overdue"] is True
    assert all(e["expired"] for e in body["equipment"])
    assert body["expired_equipment"] == sum(e["count"] for e in equipment) > 0
    assert body == _built_now(db, created["id"], masked=True)


def test_while_fresh_the_stored_text_is_sent_as_it_is(client, world, as_user, db):
    created = _open(client, world, as_user)
    kept = db.get(BuildingFile, uuid.UUID(created["id"]))
    assert kept.fresh_until > utcnow()
    response = client.get(f"/api/v1/buildings/{created['id']}", headers=as_user("gw1"))
    assert response.data == kept.masked.encode()
    response = client.get(f"/api/v1/buildings/{created['id']}", headers=as_user("officer1"))
    assert response.data == kept.whole.encode()


def test_not_modified_is_answered_from_the_version_alone(client, world, as_user, db):
    building_id = world.buildings["B1"]
    first = client.get(f"/api/v1/buildings/{building_id}", headers=as_user("gw1"))
    again = client.get(
        f"/api/v1/buildings/{building_id}",
        headers={**as_user("gw1"), "If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]


@pytest.mark.parametrize("persona", ["mgr1", "gw1"])
def test_a_stored_file_out_of_scope_is_404(client, world, as_user, persona):
    response = client.get(f"/api/v1/buildings/{world.buildings['B4']}", headers=as_user(persona))
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_list_rows_are_the_summary_schema_of_each_file(client, world, as_user, db):
    from fieldapi.buildings.schemas import BuildingSummarySchema

    tomorrow = (utcnow() + timedelta(days=1)).date()
    created = _open(client, world, as_user)
    db.execute(
        update(Building.__table__)
        .where(Building.__table__.c.id == world.buildings["B1"])
        .values(next_self_check_due_at=utcnow() - timedelta(days=2))
    )
    db.commit()
    page = client.get("/api/v1/buildings?limit=200", headers=as_user("officer1")).get_json()
    assert {i["id"] for i in page["items"]} >= {created["id"], str(world.buildings["B1"])}
    for item in page["items"]:
        building = db.get(Building, uuid.UUID(item["id"]))
        db.refresh(building)
        full = file_data(building, masked=False)
        assert item == json.loads(json.dumps(BuildingSummarySchema().dump(full))), item["code"]
    overdue = next(i for i in page["items"] if i["id"] == str(world.buildings["B1"]))
    assert overdue["self_check"]["overdue"] is True
    fresh = next(i for i in page["items"] if i["id"] == created["id"])
    assert fresh["expired_equipment"] == sum(
        e["count"]
        for e in created["equipment"]
        if e["expires_on"] and e["expires_on"] < str(tomorrow)
    )
