"""Client-chosen ids: a phone that lost the answer creates the same object again.

Creating an object whose id exists with the same content answers the stored object (200);
with other content, 409 problem+json, and the stored object is left as it was.
"""

from __future__ import annotations

import uuid

from tests.photos.conftest import assert_problem, sha256, small_jpeg
from tests.support.world import building_payload


def create_twice_then_differ(client, headers, path, body, changed, read_path):
    """POST ``body`` three times: new (201), the same (200, the stored object), changed (409).
    Returns the first answer's body."""
    first = client.post(path, json=body, headers=headers)
    assert first.status_code == 201, first.get_json()
    stored = client.get(read_path, headers=headers)
    assert stored.status_code == 200, stored.get_json()

    again = client.post(path, json=body, headers=headers)
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["id"] == body["id"]
    assert again.get_json() == stored.get_json()

    refused = client.post(path, json={**body, **changed}, headers=headers)
    assert_problem(refused, 409, "conflict")
    after = client.get(read_path, headers=headers)
    assert after.get_json() == stored.get_json()
    return first.get_json()


def test_buildings(client, world, as_user):
    body = building_payload("FT-CID-1", str(world.areas["G1"]), id=str(uuid.uuid4()))
    create_twice_then_differ(
        client,
        as_user("gw1"),
        "/api/v1/buildings",
        body,
        {"name": "Another name"},
        f"/api/v1/buildings/{body['id']}",
    )
    # The id of another user's file in another grid: a conflict, not a look at that file.
    other = building_payload("FT-CID-2", str(world.areas["G1"]), id=str(world.buildings["B4"]))
    refused = client.post("/api/v1/buildings", json=other, headers=as_user("gw1"))
    assert refused.status_code in (404, 409)
    assert "FT-B4" not in refused.get_data(as_text=True)


def test_photos(client, as_user):
    data = small_jpeg(777)
    body = {"id": str(uuid.uuid4()), "sha256": sha256(data), "size": len(data),
            "content_type": "image/jpeg"}  # fmt: skip
    headers = as_user("mgr1")
    first = client.post("/api/v1/photos", json=body, headers=headers)
    assert first.status_code == 201, first.get_json()
    again = client.post("/api/v1/photos", json=body, headers=headers)
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["id"] == body["id"]
    assert again.get_json()["status"] == "pending"
    assert "upload" in again.get_json()  # the phone can still send the bytes

    refused = client.post("/api/v1/photos", json={**body, "size": len(data) + 1}, headers=headers)
    assert_problem(refused, 409, "conflict")
    stored = client.get(f"/api/v1/photos/{body['id']}", headers=headers).get_json()
    assert stored["status"] == "pending"
    assert stored.get("size", len(data)) == len(data)


def test_inspections(client, field, as_user):
    body = field.inspection_body("mgr1")
    create_twice_then_differ(
        client,
        as_user("mgr1"),
        "/api/v1/inspections",
        body,
        {"performed_at": "2026-01-01T08:00:00+08:00"},
        f"/api/v1/inspections/{body['id']}",
    )


def test_inspection_with_other_results_is_refused(client, field, as_user):
    from tests.fieldwork.conftest import PLAIN_ITEMS

    body = field.inspection_body("mgr1")
    assert client.post("/api/v1/inspections", json=body, headers=as_user("mgr1")).status_code == 201
    items = [
        {**item, "result": "fail", "note": "broken"} if item["code"] == PLAIN_ITEMS[0] else item
        for item in body["items"]
    ]
    refused = client.post(
        "/api/v1/inspections", json={**body, "items": items}, headers=as_user("mgr1")
    )
    assert_problem(refused, 409, "conflict")
    stored = client.get(f"/api/v1/inspections/{body['id']}", headers=as_user("mgr1")).get_json()
    results = {item["code"]: item["result"] for item in stored["items"]}
    assert results[PLAIN_ITEMS[0]] == "pass"


def test_hazard_reports(client, field, as_user):
    headers = as_user("officer1")
    body = {
        "id": str(uuid.uuid4()),
        "building_id": str(field.world.buildings["B1"]),
        "category": "electric_bikes",
        "severity": "major",
        "description": "E-bikes charging in the stairwell",
        "photo_ids": [field.photo("officer1")],
    }
    create_twice_then_differ(
        client,
        headers,
        "/api/v1/hazards",
        body,
        {"description": "Something else entirely"},
        f"/api/v1/hazards/{body['id']}",
    )


def test_rectifications(client, field, as_user):
    reported = field.report("officer1")
    assert reported.status_code == 201, reported.get_json()
    hazard = reported.get_json()
    field.approve_all(hazard["submission_id"])
    headers = as_user("mgr1")
    body = {"id": str(uuid.uuid4()), "note": "Bikes moved out", "photo_ids": [field.photo("mgr1")]}
    path = f"/api/v1/hazards/{hazard['id']}/rectifications"

    first = client.post(path, json=body, headers=headers)
    assert first.status_code == 201, first.get_json()
    again = client.post(path, json=body, headers=headers)
    assert again.status_code == 200, again.get_json()
    assert again.get_json() == first.get_json()

    refused = client.post(path, json={**body, "note": "Something else"}, headers=headers)
    assert_problem(refused, 409, "conflict")
    listed = client.get(path, headers=headers).get_json()["items"]
    assert [(r["id"], r["note"]) for r in listed] == [(body["id"], "Bikes moved out")]


def test_areas_and_grids(client, world, as_user):
    headers = as_user("admin")
    area = {"id": str(uuid.uuid4()), "name": "Shuiwei West", "kind": "grid",
            "parent_id": str(world.areas["Shuiwei"])}  # fmt: skip
    create_twice_then_differ(
        client,
        headers,
        "/api/v1/areas",
        area,
        {"name": "Shuiwei South"},
        f"/api/v1/areas/{area['id']}",
    )
    grid = {"id": str(uuid.uuid4()), "name": "Huanggang East",
            "parent_id": str(world.areas["Huanggang"])}  # fmt: skip
    create_twice_then_differ(
        client,
        headers,
        "/api/v1/grids",
        grid,
        {"parent_id": str(world.areas["Shuiwei"])},
        f"/api/v1/grids/{grid['id']}",
    )


def test_users(client, world, as_user):
    headers = as_user("admin")
    body = {"id": str(uuid.uuid4()), "username": "gw7", "password": "a long enough password",
            "role": "grid_staff", "area_ids": [str(world.areas["G2"])]}  # fmt: skip
    create_twice_then_differ(
        client, headers, "/api/v1/users", body, {"role": "officer"}, f"/api/v1/users/{body['id']}"
    )
    # Another password is other content: the account keeps the first.
    refused = client.post(
        "/api/v1/users", json={**body, "password": "another long password"}, headers=headers
    )
    assert_problem(refused, 409, "conflict")
    login = client.post(
        "/api/v1/auth/login", json={"username": "gw7", "password": "a long enough password"}
    )
    assert login.status_code == 200
