"""The area tree over HTTP: admins shape it, everyone reads the part they work in."""

from __future__ import annotations

import uuid

import pytest

from tests.buildings import assert_problem, pages

AREAS = "/api/v1/areas"
GRIDS = "/api/v1/grids"

SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[114.06, 22.52], [114.07, 22.52], [114.07, 22.53], [114.06, 22.53], [114.06, 22.52]]
    ],
}


def post(client, headers, body, path=AREAS):
    return client.post(path, json=body, headers=headers)


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [a["name"] for a in response.get_json()["items"]]


def walk(client, headers, path, **query) -> list[dict]:
    """Every item of a paged list, following next_cursor."""
    return [item for page in pages(client, headers, path, **query) for item in page]


# ---------------------------------------------------------------- building the tree


def test_admin_builds_district_street_community_grid(client, world, as_user):
    admin = as_user("admin")
    district = post(client, admin, {"name": "Nanshan", "kind": "district", "code": "NS"})
    assert district.status_code == 201, district.get_json()
    assert district.headers["ETag"]
    d = district.get_json()
    assert (d["name"], d["kind"], d["parent_id"], d["code"]) == (
        "Nanshan",
        "district",
        None,
        "NS",
    )

    street = post(client, admin, {"name": "Yuehai", "kind": "street", "parent_id": d["id"]})
    assert street.status_code == 201
    community_id = str(uuid.uuid4())
    community = post(
        client,
        admin,
        {
            "id": community_id,
            "name": "Keyuan",
            "kind": "community",
            "parent_id": street.get_json()["id"],
        },
    )
    assert community.status_code == 201
    assert community.get_json()["id"] == community_id  # the client's id is honoured
    grid = post(
        client,
        admin,
        {"name": "KY-1", "kind": "grid", "parent_id": community_id, "boundary": SQUARE},
    )
    assert grid.status_code == 201, grid.get_json()
    g = grid.get_json()
    assert (g["kind"], g["parent_id"], g["boundary"]) == ("grid", community_id, SQUARE)

    read = client.get(f"{AREAS}/{g['id']}", headers=admin)
    assert read.status_code == 200
    assert read.get_json() == g
    assert read.headers["ETag"] == grid.headers["ETag"]
    assert client.get(f"{GRIDS}/{g['id']}", headers=admin).get_json() == g

    # The new grid takes buildings.
    building = {
        "code": "NS-KY-1",
        "name": "Keyuan Tower",
        "address": "1 Keyuan Road",
        "grid_id": g["id"],
        "location": {"lat": 22.52, "lon": 114.06},
        "use_type": "commercial",
    }
    assert client.post("/api/v1/buildings", json=building, headers=admin).status_code == 201


def test_grids_are_created_under_a_community_through_grids(client, world, as_user):
    admin = as_user("admin")
    body = {"name": "G9", "parent_id": str(world.areas["Shuiwei"]), "boundary": SQUARE}
    created = post(client, admin, body, path=GRIDS)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["kind"] == "grid"
    # Under anything but a community it is refused.
    for parent in ("Shahe", "Futian", "G1"):
        refused = post(client, admin, {**body, "parent_id": str(world.areas[parent])}, GRIDS)
        assert_problem(refused, 422, "validation-failed", pointer="/parent_id")
    assert_problem(
        post(client, admin, {"name": "G10"}, GRIDS), 422, "validation-failed", pointer="/parent_id"
    )


@pytest.mark.parametrize(
    ("kind", "parent"),
    [
        ("grid", "Shahe"),  # a grid under a street
        ("grid", "Futian"),
        ("grid", "G1"),
        ("community", "Futian"),  # a community under a district
        ("community", "Shuiwei"),
        ("street", "Shahe"),
        ("street", None),  # a street needs a district
        ("community", None),
        ("grid", None),
        ("street", "nowhere"),  # a parent that does not exist
        ("district", "Futian"),  # a district has no parent
        ("district", "nowhere"),
    ],
)
def test_each_kind_hangs_under_its_parent_kind(client, world, as_user, kind, parent):
    admin = as_user("admin")
    before = len(walk(client, admin, AREAS))
    if parent is None:
        body = {"name": "New place", "kind": kind}
    else:
        parent_id = uuid.uuid4() if parent == "nowhere" else world.areas[parent]
        body = {"name": "New place", "kind": kind, "parent_id": str(parent_id)}
    response = post(client, admin, body)
    assert_problem(response, 422, "validation-failed", pointer="/parent_id")
    assert len(walk(client, admin, AREAS)) == before


@pytest.mark.parametrize(
    ("boundary", "why"),
    [
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "not closed"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}, "three positions"),
        ({"type": "Polygon", "coordinates": []}, "no ring"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [181, 0], [1, 1], [0, 0]]]}, "lon 181"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 91], [1, 1], [0, 0]]]}, "lat 91"),
        ({"type": "Polygon", "coordinates": [[[0, 0], ["1", 0], [1, 1], [0, 0]]]}, "string"),
        ({"type": "Polygon", "coordinates": [[[0], [1, 0], [1, 1], [0]]]}, "one number"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [True, 0], [1, 1], [0, 0]]]}, "boolean"),
        ({"type": "Point", "coordinates": [114.06, 22.52]}, "a point"),
        ({"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"]]}, "multipolygon"),
        ({"coordinates": SQUARE["coordinates"]}, "no type"),
        ({**SQUARE, "properties": {}}, "extra member"),
        ("POLYGON((0 0, 1 0, 1 1, 0 0))", "text"),
        ([[0, 0], [1, 0], [1, 1], [0, 0]], "a bare list"),
    ],
)
def test_a_grid_boundary_must_be_a_geojson_polygon(client, world, as_user, boundary, why):
    admin = as_user("admin")
    body = {
        "name": f"Bad {why}",
        "kind": "grid",
        "parent_id": str(world.areas["Shuiwei"]),
        "boundary": boundary,
    }
    assert_problem(post(client, admin, body), 422, "validation-failed", pointer="/boundary")
    assert "Bad" not in " ".join(names(client.get(AREAS, headers=admin)))


def test_boundary_with_a_hole_and_altitudes_is_accepted(client, world, as_user):
    boundary = {
        "type": "Polygon",
        "coordinates": [
            [[0, 0, 5], [10, 0, 5], [10, 10, 5], [0, 10, 5], [0, 0, 5]],
            [[2, 2], [3, 2], [3, 3], [2, 2]],
        ],
    }
    body = {"name": "Holed", "parent_id": str(world.areas["Shuiwei"]), "boundary": boundary}
    response = post(client, as_user("admin"), body, GRIDS)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["boundary"] == boundary


@pytest.mark.parametrize(("kind", "parent"), [("community", "Shahe"), ("street", "Futian")])
def test_only_grids_carry_a_boundary(client, world, as_user, kind, parent):
    body = {"name": "Outlined", "kind": kind, "parent_id": str(world.areas[parent])}
    response = post(client, as_user("admin"), {**body, "boundary": SQUARE})
    assert_problem(response, 422, "validation-failed", pointer="/boundary")
    assert post(client, as_user("admin"), body).status_code == 201


def test_a_name_is_unique_under_one_parent(client, world, as_user):
    admin = as_user("admin")
    shuiwei = str(world.areas["Shuiwei"])
    clash = post(client, admin, {"name": "G1", "kind": "grid", "parent_id": shuiwei})
    assert_problem(clash, 409, "conflict")
    assert_problem(post(client, admin, {"name": "Futian", "kind": "district"}), 409, "conflict")
    # The same name under another parent is another place.
    huanggang = str(world.areas["Huanggang"])
    assert (
        post(client, admin, {"name": "G1", "kind": "grid", "parent_id": huanggang}).status_code
        == 201
    )
    grids_named_g1 = [a for a in walk(client, admin, GRIDS) if a["name"] == "G1"]
    assert sorted(a["parent_id"] for a in grids_named_g1) == sorted([shuiwei, huanggang])


def test_codes_and_ids_are_unique(client, world, as_user):
    admin = as_user("admin")
    first = post(client, admin, {"name": "Luohu", "kind": "district", "code": "LH"})
    assert first.status_code == 201
    assert_problem(
        post(client, admin, {"name": "Yantian", "kind": "district", "code": "LH"}), 409, "conflict"
    )
    same_id = {"id": first.get_json()["id"], "name": "Longgang", "kind": "district"}
    assert_problem(post(client, admin, same_id), 409, "conflict")


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"name": "", "kind": "district"}, "/name"),
        ({"name": "X" * 121, "kind": "district"}, "/name"),
        ({"name": "Somewhere", "kind": "village"}, "/kind"),
        ({"name": "Somewhere"}, "/kind"),
        ({"name": "Somewhere", "kind": "district", "code": "no spaces"}, "/code"),
        ({"name": "Somewhere", "kind": "district", "population": 5}, "/population"),
    ],
)
def test_area_fields_are_validated(client, world, as_user, body, pointer):
    assert_problem(post(client, as_user("admin"), body), 422, "validation-failed", pointer=pointer)


@pytest.mark.parametrize("persona", ["mgr1", "gw1", "officer1", "office1", "police1"])
def test_only_admins_shape_the_tree(client, world, as_user, persona):
    headers = as_user(persona)
    body = {"name": "Mine", "kind": "grid", "parent_id": str(world.areas["Shuiwei"])}
    assert_problem(post(client, headers, body), 403, "forbidden")
    assert_problem(post(client, headers, body, GRIDS), 403, "forbidden")
    g1 = f"{AREAS}/{world.areas['G1']}"
    response = client.patch(g1, json={"name": "Mine"}, headers={**headers, "If-Match": "*"})
    assert_problem(response, 403, "forbidden")
    grid = f"{GRIDS}/{world.areas['G1']}"
    response = client.patch(grid, json={"name": "Mine"}, headers={**headers, "If-Match": "*"})
    assert_problem(response, 403, "forbidden")
    assert "Mine" not in names(client.get(AREAS, headers=as_user("admin")))


# ---------------------------------------------------------------- reading by scope


ALL_AREAS = {
    "Futian",
    "Shahe",
    "Xiangmihu",
    "Shuiwei",
    "Huanggang",
    "Zhuzilin",
    "G1",
    "G2",
    "G3",
    "G4",
}


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("gw1", {"Futian", "Shahe", "Shuiwei", "G1"}),
        ("mgr1", {"Futian", "Shahe", "Shuiwei", "G1"}),
        ("officer1", {"Futian", "Shahe", "Shuiwei", "G1", "G2"}),
        ("office1", {"Futian", "Shahe", "Shuiwei", "Huanggang", "G1", "G2", "G3"}),
        ("police1", {"Futian", "Shahe", "Shuiwei", "Huanggang", "G1", "G2", "G3"}),
        ("admin", ALL_AREAS),
    ],
)
def test_areas_list_the_subtree_and_its_ancestors(client, world, as_user, persona, expected):
    items = walk(client, as_user(persona), AREAS)
    listed = [a["name"] for a in items]
    assert len(listed) == len(set(listed))
    assert set(listed) == expected
    # Tree order: every node comes after its parent.
    position = {a["id"]: i for i, a in enumerate(items)}
    for area in items:
        if area["parent_id"] is not None:
            assert position[area["parent_id"]] < position[area["id"]]


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("gw1", ["G1"]),
        ("mgr1", ["G1"]),
        ("officer1", ["G1", "G2"]),
        ("office1", ["G1", "G2", "G3"]),
        ("police1", ["G1", "G2", "G3"]),
        ("admin", ["G1", "G2", "G3", "G4"]),
    ],
)
def test_grids_list_the_grids_in_scope(client, world, as_user, persona, expected):
    items = walk(client, as_user(persona), GRIDS)
    assert sorted(a["name"] for a in items) == expected
    assert all(a["kind"] == "grid" for a in items)


def test_area_lists_filter_by_kind_and_parent(client, world, as_user):
    office = as_user("office1")
    assert sorted(names(client.get(AREAS, query_string={"kind": "community"}, headers=office))) == [
        "Huanggang",
        "Shuiwei",
    ]
    by_parent = client.get(
        AREAS, query_string={"parent_id": str(world.areas["Shuiwei"])}, headers=office
    )
    assert sorted(names(by_parent)) == ["G1", "G2"]
    out_of_scope = client.get(
        GRIDS, query_string={"parent_id": str(world.areas["Zhuzilin"])}, headers=office
    )
    assert names(out_of_scope) == []
    assert_problem(
        client.get(AREAS, query_string={"kind": "village"}, headers=office),
        422,
        "validation-failed",
        pointer="/kind",
    )


def test_area_pages_walk_every_area_once(client, world, as_user):
    items = walk(client, as_user("admin"), AREAS, limit=3)
    assert sorted(a["name"] for a in items) == sorted(ALL_AREAS)
    assert_problem(
        client.get(AREAS, query_string={"limit": 0}, headers=as_user("admin")),
        422,
        "validation-failed",
        pointer="/limit",
    )
    assert_problem(
        client.get(AREAS, query_string={"cursor": "nonsense!"}, headers=as_user("admin")),
        400,
        "invalid-cursor",
    )


@pytest.mark.parametrize(
    ("persona", "hidden"),
    [("gw1", "G2"), ("officer1", "G3"), ("office1", "G4"), ("mgr1", "G2"), ("gw1", "Huanggang")],
)
def test_an_area_out_of_scope_is_404_like_an_unknown_one(client, world, as_user, persona, hidden):
    headers = as_user(persona)
    unknown = client.get(f"{GRIDS}/{uuid.uuid4()}", headers=headers)
    assert_problem(unknown, 404, "not-found")
    for path in (GRIDS, AREAS):
        response = client.get(f"{path}/{world.areas[hidden]}", headers=headers)
        assert_problem(response, 404, "not-found")
        assert response.get_json() == unknown.get_json()


def test_a_grid_address_answers_only_for_grids(client, world, as_user):
    headers = as_user("gw1")
    assert_problem(
        client.get(f"{GRIDS}/{world.areas['Shuiwei']}", headers=headers), 404, "not-found"
    )
    assert client.get(f"{AREAS}/{world.areas['Shuiwei']}", headers=headers).status_code == 200
    assert client.get(f"{GRIDS}/{world.areas['G1']}", headers=headers).status_code == 200


def test_an_area_get_answers_304_when_unchanged(client, world, as_user):
    headers = as_user("gw1")
    first = client.get(f"{GRIDS}/{world.areas['G1']}", headers=headers)
    cached = client.get(
        f"{GRIDS}/{world.areas['G1']}", headers={**headers, "If-None-Match": first.headers["ETag"]}
    )
    assert cached.status_code == 304
    assert cached.data == b""


# ---------------------------------------------------------------- changing


def test_patch_needs_if_match_and_refuses_a_stale_one(client, world, as_user):
    admin = as_user("admin")
    path = f"{AREAS}/{world.areas['Shuiwei']}"
    etag = client.get(path, headers=admin).headers["ETag"]

    assert_problem(
        client.patch(path, json={"name": "Shuiwei East"}, headers=admin),
        428,
        "precondition-required",
    )
    stale = client.patch(path, json={"name": "Shuiwei East"}, headers={**admin, "If-Match": '"0"'})
    assert_problem(stale, 412, "precondition-failed")
    assert client.get(path, headers=admin).get_json()["name"] == "Shuiwei"

    renamed = client.patch(path, json={"name": "Shuiwei East"}, headers={**admin, "If-Match": etag})
    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["name"] == "Shuiwei East"
    assert renamed.headers["ETag"] != etag
    read = client.get(path, headers=admin)
    assert read.get_json()["name"] == "Shuiwei East"
    assert read.headers["ETag"] == renamed.headers["ETag"]
    again = client.patch(path, json={"name": "Shuiwei"}, headers={**admin, "If-Match": etag})
    assert_problem(again, 412, "precondition-failed")
    # The rename shows to those in scope.
    assert "Shuiwei East" in names(client.get(AREAS, headers=as_user("gw1")))


def test_patch_a_grid_boundary(client, world, as_user):
    admin = as_user("admin")
    path = f"{GRIDS}/{world.areas['G1']}"
    etag = client.get(path, headers=admin).headers["ETag"]
    bad = client.patch(
        path,
        json={"boundary": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]}},
        headers={**admin, "If-Match": etag},
    )
    assert_problem(bad, 422, "validation-failed", pointer="/boundary")
    ok = client.patch(path, json={"boundary": SQUARE}, headers={**admin, "If-Match": etag})
    assert ok.status_code == 200, ok.get_json()
    assert client.get(path, headers=as_user("gw1")).get_json()["boundary"] == SQUARE
    community = f"{AREAS}/{world.areas['Shuiwei']}"
    c_etag = client.get(community, headers=admin).headers["ETag"]
    refused = client.patch(
        community, json={"boundary": SQUARE}, headers={**admin, "If-Match": c_etag}
    )
    assert_problem(refused, 422, "validation-failed", pointer="/boundary")
    # A community is not changed through the grid address.
    through_grids = client.patch(
        f"{GRIDS}/{world.areas['Shuiwei']}",
        json={"name": "X"},
        headers={**admin, "If-Match": c_etag},
    )
    assert_problem(through_grids, 404, "not-found")
    assert client.get(community, headers=admin).get_json()["name"] == "Shuiwei"


def test_patch_refuses_a_sibling_name_and_unknown_fields(client, world, as_user):
    admin = as_user("admin")
    path = f"{GRIDS}/{world.areas['G2']}"
    etag = client.get(path, headers=admin).headers["ETag"]
    clash = client.patch(path, json={"name": "G1"}, headers={**admin, "If-Match": etag})
    assert_problem(clash, 409, "conflict")
    for body, pointer in (
        ({"parent_id": str(world.areas["Huanggang"])}, "/parent_id"),
        ({"kind": "community"}, "/kind"),
        ({"name": None}, "/name"),
    ):
        response = client.patch(path, json=body, headers={**admin, "If-Match": etag})
        assert_problem(response, 422, "validation-failed", pointer=pointer)
    after = client.get(path, headers=admin)
    assert after.headers["ETag"] == etag
    assert after.get_json()["name"] == "G2"
    assert after.get_json()["parent_id"] == str(world.areas["Shuiwei"])
