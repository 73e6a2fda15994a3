"""State changes and admin actions made through the API land in the audit chain."""

from sqlalchemy import select

from fieldapi.audit import service as audit
from fieldapi.audit.models import AuditEvent


def _events(db, action):
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_admin_actions_and_file_changes_are_audited(client, world, as_user, db):
    admin = as_user("admin")
    created = client.post(
        "/api/v1/users",
        headers=admin,
        json={
            "username": "gw9",
            "password": "a long enough password",
            "role": "grid_staff",
            "area_ids": [str(world.areas["G2"])],
        },
    )
    assert created.status_code == 201
    grid = client.post(
        "/api/v1/grids",
        headers=admin,
        json={"name": "G9", "parent_id": str(world.areas["Shuiwei"])},
    )
    assert grid.status_code == 201
    b1 = world.buildings["B1"]
    gw1 = as_user("gw1")
    etag = client.get(f"/api/v1/buildings/{b1}", headers=gw1).headers["ETag"]
    patched = client.patch(
        f"/api/v1/buildings/{b1}", headers={**gw1, "If-Match": etag}, json={"floors_above": 12}
    )
    assert patched.status_code == 200

    (user_event,) = [
        e for e in _events(db, "user.create") if e.object_id == created.get_json()["id"]
    ]
    assert user_event.actor_id == world.users["admin"]
    (area_event,) = [e for e in _events(db, "area.create") if e.object_id == grid.get_json()["id"]]
    assert area_event.actor_id == world.users["admin"]
    updates = _events(db, "building.update")
    assert [(e.actor_id, e.object_id, e.building_id) for e in updates] == [
        (world.users["gw1"], str(b1), b1)
    ]
    verdict = audit.verify(db)
    assert verdict.ok
    # World setup (10 areas, 6 accounts, 4 buildings) plus the three calls above.
    assert verdict.checked == 10 + 6 + 4 + 3


def test_refused_change_leaves_no_audit_event(client, world, as_user, db):
    before = audit.verify(db).checked
    b1 = world.buildings["B1"]
    gw1 = as_user("gw1")
    response = client.patch(
        f"/api/v1/buildings/{b1}", headers={**gw1, "If-Match": '"stale"'}, json={"floors_above": 3}
    )
    assert response.status_code == 412
    assert audit.verify(db).checked == before
