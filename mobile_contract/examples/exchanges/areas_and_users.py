"""Areas and users: an admin creates a community, a grid with its boundary and an
account; grid staff may not."""

from __future__ import annotations

from mobile_contract.examples.recorder import API, Recorder


def areas_and_users(rec: Recorder, world, as_user) -> None:
    admin = as_user["admin"]
    community = rec.record(
        "areas-and-users/create-community",
        "Create a community under a street",
        "POST",
        f"{API}/areas",
        headers=admin,
        body={"name": "Futian Port", "kind": "community", "parent_id": str(world.areas["Shahe"])},
    )
    rec.record(
        "areas-and-users/create-grid",
        "Create a grid with its boundary (GeoJSON Polygon, lon/lat)",
        "POST",
        f"{API}/areas",
        headers=admin,
        body={
            "name": "G5",
            "kind": "grid",
            "parent_id": community.body["id"],
            "boundary": {
                "type": "Polygon",
                "coordinates": [
                    [[114.060, 22.525], [114.066, 22.525], [114.066, 22.531], [114.060, 22.525]]
                ],
            },
        },
    )
    rec.record(
        "areas-and-users/create-user",
        "Create a grid staff account with its grid",
        "POST",
        f"{API}/users",
        headers=admin,
        body={
            "username": "gw5",
            "password": "a long enough passphrase",
            "role": "grid_staff",
            "area_ids": [str(world.areas["G2"])],
            "building_ids": [],
        },
    )
    rec.record(
        "areas-and-users/create-user-forbidden",
        "A grid staff member may not create accounts",
        "POST",
        f"{API}/users",
        headers=as_user["gw1"],
        body={"username": "gw6", "password": "a long enough passphrase", "role": "grid_staff"},
    )
