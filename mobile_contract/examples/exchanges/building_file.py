"""The building file: create with the phone's id, read, read unchanged, out of scope,
change with and without a current ETag, and list a page at a time."""

from __future__ import annotations

import uuid

from mobile_contract.examples.recorder import API, Recorder


def building_file(rec: Recorder, world, as_user) -> None:
    gw1 = as_user["gw1"]
    building_id = str(uuid.uuid4())
    created = rec.record(
        "building-file/create",
        "Create a building file (the id chosen by the phone)",
        "POST",
        f"{API}/buildings",
        headers=gw1,
        body={
            "id": building_id,
            "code": "FT-SW-0012",
            "name": "Shuiwei Lane 12",
            "address": "12 Shuiwei Lane, Futian",
            "grid_id": str(world.areas["G1"]),
            "location": {"lat": 22.528, "lon": 114.063},
            "use_type": "residential",
            "floors_above": 9,
        },
    )
    url = f"{API}/buildings/{building_id}"
    read = rec.record("building-file/read", "Read a building file", "GET", url, headers=gw1)
    rec.record(
        "building-file/read-not-modified",
        "Read again with If-None-Match: not modified",
        "GET",
        url,
        headers={**gw1, "If-None-Match": read.headers["ETag"]},
    )
    rec.record(
        "building-file/read-out-of-scope",
        "A building outside the caller's grids is not found",
        "GET",
        f"{API}/buildings/{world.buildings['B4']}",
        headers=gw1,
    )
    rec.record(
        "building-file/update-without-if-match",
        "A change without If-Match is refused",
        "PATCH",
        url,
        headers=gw1,
        body={"floors_above": 10},
    )
    updated = rec.record(
        "building-file/update",
        "Change the file with the ETag it was read with",
        "PATCH",
        url,
        headers={**gw1, "If-Match": created.headers["ETag"]},
        body={"floors_above": 10},
    )
    assert updated.status == 200, updated.body
    rec.record(
        "building-file/update-stale",
        "A change made with an ETag that is no longer current is refused",
        "PATCH",
        url,
        headers={**gw1, "If-Match": created.headers["ETag"]},
        body={"floors_above": 11},
    )
    first = rec.record(
        "building-file/list",
        "List the buildings of a grid, a page at a time",
        "GET",
        f"{API}/buildings",
        headers=gw1,
        query={"grid_id": str(world.areas["G1"]), "limit": 1},
    )
    rec.record(
        "building-file/list-next-page",
        "The next page: pass next_cursor back as given",
        "GET",
        f"{API}/buildings",
        headers=gw1,
        query={"grid_id": str(world.areas["G1"]), "limit": 1, "cursor": first.body["next_cursor"]},
    )
