"""The building file over HTTP: create, read, change, versions, masking, lists, scope."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import func, select, update

from fieldapi.buildings.models import Building, BuildingChange
from tests.buildings import (
    MASKED_ID_NUMBER,
    MASKED_PHONE,
    PHONE,
    VALID_ID_NUMBER,
    assert_problem,
    expected_readback,
    full_file,
    pages,
)
from tests.support.world import building_payload

API = "/api/v1/buildings"


def url(building_id) -> str:
    return f"{API}/{building_id}"


def fetch(client, headers, building_id):
    response = client.get(url(building_id), headers=headers)
    assert response.status_code == 200, response.get_json()
    return response


def patch(client, headers, building_id, body, etag="current"):
    """PATCH with If-Match: the current ETag by default, a given one, or none (``None``)."""
    if etag == "current":
        etag = fetch(client, headers, building_id).headers["ETag"]
    extra = {} if etag is None else {"If-Match": etag}
    return client.patch(url(building_id), json=body, headers={**headers, **extra})


def versions(db, building_id) -> int:
    db.expire_all()
    return db.scalar(
        select(func.count())
        .select_from(BuildingChange)
        .where(BuildingChange.building_id == uuid.UUID(str(building_id)))
    )


def codes(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["code"] for item in response.get_json()["items"]]


# ---------------------------------------------------------------- create


def test_create_answers_201_with_etag_and_the_whole_file_reads_back_equal(client, world, as_user):
    payload = full_file(world.areas["G1"])
    created = client.post(API, json=payload, headers=as_user("officer1"))

    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["id"] == payload["id"]  # the client's id is honoured
    assert created.headers["ETag"].startswith('"')
    assert body["version"] == 1
    read = fetch(client, as_user("officer1"), payload["id"])
    assert read.headers["ETag"] == created.headers["ETag"]
    assert read.get_json() == body
    got = read.get_json()
    for field, value in expected_readback(payload).items():
        assert got[field] == value, field
    assert got["expired_equipment"] == 9  # the nine emergency lights expired in 2020
    assert got["self_check"]["overdue"] is False
    assert got["personal_data_masked"] is False
    assert got["risk_level"] == "low"


def test_create_without_id_assigns_one(client, world, as_user):
    payload = building_payload("FT-NEW-1", str(world.areas["G1"]))
    created = client.post(API, json=payload, headers=as_user("gw1"))
    assert created.status_code == 201, created.get_json()
    new_id = uuid.UUID(created.get_json()["id"])
    assert fetch(client, as_user("gw1"), new_id).get_json()["code"] == "FT-NEW-1"


def test_create_the_same_file_again_returns_the_stored_one(client, world, as_user, db):
    """A phone that lost the answer retries with the same id and body: no second file."""
    payload = full_file(world.areas["G1"])
    first = client.post(API, json=payload, headers=as_user("officer1"))
    assert first.status_code == 201
    # Items are matched whatever order the retry lists them in.
    retry_body = {**payload, "units": list(reversed(payload["units"]))}
    again = client.post(API, json=retry_body, headers=as_user("officer1"))

    assert again.status_code == 200, again.get_json()
    assert again.get_json() == first.get_json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert versions(db, payload["id"]) == 1


def test_a_retried_file_whose_items_had_no_ids_is_still_the_same_file(client, world, as_user):
    unit = {"label": "101", "floor": 1, "residents": [{"name": "Li Wei", "kind": "permanent"}]}
    payload = building_payload(
        "FT-RETRY", str(world.areas["G1"]), id=str(uuid.uuid4()), units=[unit]
    )
    first = client.post(API, json=payload, headers=as_user("officer1"))
    assert first.status_code == 201
    again = client.post(API, json=payload, headers=as_user("officer1"))
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["units"] == first.get_json()["units"]
    other_resident = {**unit, "residents": [{"name": "Li Na", "kind": "permanent"}]}
    changed = client.post(
        API, json={**payload, "units": [other_resident]}, headers=as_user("officer1")
    )
    assert_problem(changed, 409, "conflict")


def test_create_with_a_used_id_and_other_content_is_409_and_changes_nothing(client, world, as_user):
    payload = full_file(world.areas["G1"])
    assert client.post(API, json=payload, headers=as_user("officer1")).status_code == 201
    before = fetch(client, as_user("officer1"), payload["id"])

    clash = client.post(API, json={**payload, "name": "Another name"}, headers=as_user("officer1"))
    assert_problem(clash, 409, "conflict")
    # An existing id under a different code is the same clash, not a second file.
    other_code = client.post(
        API,
        json=building_payload("FT-OTHER", str(world.areas["G1"]), id=payload["id"]),
        headers=as_user("officer1"),
    )
    assert_problem(other_code, 409, "conflict")
    after = fetch(client, as_user("officer1"), payload["id"])
    assert after.get_json() == before.get_json()
    assert after.headers["ETag"] == before.headers["ETag"]


def test_create_with_an_id_used_out_of_scope_is_409(client, world, as_user):
    """An id that exists but that the caller cannot see is never handed back."""
    body = building_payload("FT-B4", str(world.areas["G1"]), id=str(world.buildings["B4"]))
    assert_problem(client.post(API, json=body, headers=as_user("gw1")), 409, "conflict")


def test_code_already_used_is_409_pointing_at_code(client, world, as_user, db):
    body = building_payload("FT-B1", str(world.areas["G1"]), id=str(uuid.uuid4()))
    response = client.post(API, json=body, headers=as_user("officer1"))
    assert_problem(response, 409, "conflict", pointer="/code")
    assert db.get(Building, uuid.UUID(body["id"])) is None


@pytest.mark.parametrize(
    ("persona", "grid"),
    [
        ("gw1", "G2"),  # a grid of the same community, not the caller's
        ("gw1", "G4"),
        ("officer1", "G3"),
        ("gw1", "Shuiwei"),  # in scope, but a community, not a grid
        ("officer1", "Futian"),  # a district
        ("admin", "Shahe"),  # even an admin needs a grid
        ("gw1", None),  # no such area at all
    ],
)
def test_grid_out_of_scope_or_not_a_grid_is_the_same_422(client, world, as_user, persona, grid):
    grid_id = world.areas[grid] if grid else uuid.uuid4()
    body = building_payload("FT-NEW-2", str(grid_id), id=str(uuid.uuid4()))
    response = client.post(API, json=body, headers=as_user(persona))
    problem = assert_problem(response, 422, "validation-failed", pointer="/grid_id")
    # One answer for every case: nothing tells whether the grid exists elsewhere.
    assert problem["errors"] == [{"pointer": "/grid_id", "detail": "No such grid in your area."}]
    assert client.get(url(body["id"]), headers=as_user("admin")).status_code == 404


@pytest.mark.parametrize("persona", ["mgr1", "office1", "police1"])
def test_roles_that_do_not_open_files_cannot_create(client, world, as_user, persona):
    body = building_payload("FT-NEW-3", str(world.areas["G1"]), id=str(uuid.uuid4()))
    assert_problem(client.post(API, json=body, headers=as_user(persona)), 403, "forbidden")
    assert client.get(url(body["id"]), headers=as_user("admin")).status_code == 404


def test_grid_staff_opens_files_but_does_not_register_residents(client, world, as_user):
    with_people = full_file(world.areas["G1"])
    response = client.post(API, json=with_people, headers=as_user("gw1"))
    assert_problem(response, 403, "forbidden")
    assert client.get(url(with_people["id"]), headers=as_user("admin")).status_code == 404

    without_people = {k: v for k, v in with_people.items() if k != "units"}
    response = client.post(API, json=without_people, headers=as_user("gw1"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["units"] == []


def test_create_without_a_token_is_401(client, world):
    body = building_payload("FT-NEW-4", str(world.areas["G1"]))
    assert_problem(client.post(API, json=body), 401, "authentication-required")


# ---------------------------------------------------------------- read


def test_get_answers_etag_and_304_when_unchanged(client, world, as_user):
    headers = as_user("gw1")
    first = fetch(client, headers, world.buildings["B1"])
    etag = first.headers["ETag"]

    cached = client.get(url(world.buildings["B1"]), headers={**headers, "If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.data == b""
    assert cached.headers["ETag"] == etag

    other = client.get(
        url(world.buildings["B1"]), headers={**headers, "If-None-Match": '"something-else"'}
    )
    assert other.status_code == 200
    assert other.get_json() == first.get_json()

    assert patch(client, headers, world.buildings["B1"], {"name": "Renamed"}).status_code == 200
    stale = client.get(url(world.buildings["B1"]), headers={**headers, "If-None-Match": etag})
    assert stale.status_code == 200
    assert stale.headers["ETag"] != etag
    assert stale.get_json()["name"] == "Renamed"


@pytest.mark.parametrize(
    ("persona", "hidden"),
    [
        ("mgr1", "B2"),
        ("gw1", "B2"),
        ("officer1", "B3"),
        ("office1", "B4"),
        ("police1", "B4"),
    ],
)
def test_out_of_scope_is_404_exactly_like_an_unknown_id(client, world, as_user, persona, hidden):
    headers = as_user(persona)
    out_of_scope = client.get(url(world.buildings[hidden]), headers=headers)
    unknown = client.get(url(uuid.uuid4()), headers=headers)
    assert_problem(out_of_scope, 404, "not-found")
    assert out_of_scope.get_json() == unknown.get_json()
    history = client.get(f"{url(world.buildings[hidden])}/history", headers=headers)
    assert_problem(history, 404, "not-found")
    assert history.get_json() == unknown.get_json()


# ---------------------------------------------------------------- change


def test_patch_needs_if_match_and_refuses_a_stale_one(client, world, as_user, db):
    headers = as_user("officer1")
    b1 = world.buildings["B1"]
    etag = fetch(client, headers, b1).headers["ETag"]

    assert_problem(
        patch(client, headers, b1, {"name": "A"}, etag=None), 428, "precondition-required"
    )
    assert_problem(
        patch(client, headers, b1, {"name": "A"}, etag='"0000"'), 412, "precondition-failed"
    )
    assert fetch(client, headers, b1).get_json()["name"] == "Building FT-B1"

    changed = patch(client, headers, b1, {"name": "A"}, etag=etag)
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["name"] == "A"
    assert changed.get_json()["version"] == 2
    new_etag = changed.headers["ETag"]
    assert new_etag != etag
    assert fetch(client, headers, b1).headers["ETag"] == new_etag

    # The ETag the change was made against is stale now.
    assert_problem(patch(client, headers, b1, {"name": "B"}, etag=etag), 412, "precondition-failed")
    assert fetch(client, headers, b1).get_json()["name"] == "A"
    assert versions(db, b1) == 2


def test_a_list_sent_replaces_the_list(client, world, as_user):
    headers = as_user("officer1")
    payload = full_file(world.areas["G1"])
    assert client.post(API, json=payload, headers=headers).status_code == 201
    kept_unit = {**payload["units"][1], "use": "storage"}
    new_shop = {
        "name": "Ah Kei Noodles",
        "business_type": "restaurant",
        "licence_number": None,
        "operator_name": None,
        "contact_phone": None,
        "floor": 1,
    }

    response = patch(
        client,
        headers,
        payload["id"],
        {"units": [kept_unit], "shops": [new_shop], "equipment": []},
    )
    assert response.status_code == 200, response.get_json()
    got = fetch(client, headers, payload["id"]).get_json()
    assert got["units"] == [kept_unit]
    assert len(got["shops"]) == 1
    shop = got["shops"][0]
    assert {k: v for k, v in shop.items() if k != "id"} == new_shop
    assert shop["id"] != payload["shops"][0]["id"]
    assert got["equipment"] == []
    assert got["expired_equipment"] == 0
    # Fields not sent are untouched.
    assert got["responsibility"] == payload["responsibility"]
    assert got["name"] == payload["name"]


def test_a_resident_moved_to_another_unit_keeps_their_id(client, world, as_user):
    headers = as_user("officer1")
    payload = full_file(world.areas["G1"])
    assert client.post(API, json=payload, headers=headers).status_code == 201
    first, second = payload["units"]
    moved = first["residents"][1]
    units = [
        {**first, "residents": [first["residents"][0]]},
        {**second, "residents": [moved]},
    ]
    assert patch(client, headers, payload["id"], {"units": units}).status_code == 200
    got = fetch(client, headers, payload["id"]).get_json()
    assert got["units"] == units


def test_a_no_op_patch_makes_no_new_version(client, world, as_user, db):
    headers = as_user("officer1")
    b1 = world.buildings["B1"]
    current = fetch(client, headers, b1)
    file = current.get_json()

    for body in (
        {},
        {"name": file["name"], "floors_above": file["floors_above"]},
        {"units": file["units"], "location": file["location"]},
    ):
        response = patch(client, headers, b1, body, etag=current.headers["ETag"])
        assert response.status_code == 200, response.get_json()
        assert response.headers["ETag"] == current.headers["ETag"]
        assert response.get_json()["version"] == 1
    assert versions(db, b1) == 1
    assert fetch(client, headers, b1).get_json() == file


def test_the_same_moment_in_another_time_zone_is_no_change(client, world, as_user, db):
    headers = as_user("officer1")
    b1 = world.buildings["B1"]
    set_due = patch(client, headers, b1, {"next_self_check_due_at": "2040-01-01T08:00:00+08:00"})
    assert set_due.status_code == 200
    assert set_due.get_json()["self_check"]["next_due_at"] == "2040-01-01T00:00:00+00:00"
    same = patch(client, headers, b1, {"next_self_check_due_at": "2040-01-01T00:00:00Z"})
    assert same.headers["ETag"] == set_due.headers["ETag"]
    assert versions(db, b1) == 2


def test_building_manager_keeps_their_file_but_cannot_move_or_recode_it(client, world, as_user):
    headers = as_user("mgr1")
    b1 = world.buildings["B1"]

    assert_problem(patch(client, headers, b1, {"code": "FT-B1-NEW"}), 403, "forbidden")
    assert_problem(
        patch(client, headers, b1, {"grid_id": str(world.areas["G2"])}), 403, "forbidden"
    )
    assert_problem(
        patch(client, headers, b1, {"name": "Fine", "grid_id": str(world.areas["G2"])}),
        403,
        "forbidden",
    )
    file = fetch(client, headers, b1).get_json()
    assert (file["code"], file["grid_id"], file["name"]) == (
        "FT-B1",
        str(world.areas["G1"]),
        "Building FT-B1",
    )

    # Their own building's other fields, residents included; code sent unchanged is fine.
    units = [{**file["units"][0], "residents": []}]
    response = patch(
        client,
        headers,
        b1,
        {"code": "FT-B1", "name": "Block 1", "floors_above": 7, "units": units},
    )
    assert response.status_code == 200, response.get_json()
    got = fetch(client, headers, b1).get_json()
    assert (got["name"], got["floors_above"], got["units"]) == ("Block 1", 7, units)
    # Someone else's building does not exist for them.
    assert_problem(
        patch(client, headers, world.buildings["B2"], {"name": "x"}, etag='"any"'),
        404,
        "not-found",
    )


def test_grid_staff_cannot_write_residents(client, world, as_user):
    headers = as_user("gw1")
    b1 = world.buildings["B1"]
    before = fetch(client, as_user("admin"), b1)
    response = patch(client, headers, b1, {"name": "Changed", "units": []})
    assert_problem(response, 403, "forbidden")
    after = fetch(client, as_user("admin"), b1)
    assert after.get_json() == before.get_json()

    ok = patch(client, headers, b1, {"name": "Changed"})
    assert ok.status_code == 200
    assert fetch(client, as_user("admin"), b1).get_json()["units"] == before.get_json()["units"]


@pytest.mark.parametrize("persona", ["office1", "police1"])
def test_fire_roles_cannot_change_the_file(client, world, as_user, persona):
    b1 = world.buildings["B1"]
    etag = fetch(client, as_user(persona), b1).headers["ETag"]
    for body in ({"name": "x"}, {"units": []}):
        response = client.patch(url(b1), json=body, headers={**as_user(persona), "If-Match": etag})
        assert_problem(response, 403, "forbidden")
    assert fetch(client, as_user(persona), b1).headers["ETag"] == etag


def test_moving_a_building_to_a_grid_outside_scope_is_422(client, world, as_user):
    headers = as_user("officer1")
    b1 = world.buildings["B1"]
    for target in ("G3", "G4", "Shuiwei"):
        response = patch(client, headers, b1, {"grid_id": str(world.areas[target])})
        assert_problem(response, 422, "validation-failed", pointer="/grid_id")
    assert fetch(client, headers, b1).get_json()["grid_id"] == str(world.areas["G1"])

    moved = patch(client, headers, b1, {"grid_id": str(world.areas["G2"])})
    assert moved.status_code == 200
    # Moved out of gw1's grid: gone for gw1, still there for the officer.
    assert client.get(url(b1), headers=as_user("gw1")).status_code == 404
    assert fetch(client, headers, b1).get_json()["grid_id"] == str(world.areas["G2"])


def test_a_rejected_patch_leaves_the_file_and_its_version_unchanged(client, world, as_user, db):
    headers = as_user("officer1")
    b1 = world.buildings["B1"]
    before = fetch(client, headers, b1)
    etag = before.headers["ETag"]
    bad_unit = {
        "label": "101",
        "floor": 1,
        "residents": [{"name": "X", "kind": "permanent", "id_number": "110105194912310021"}],
    }

    invalid = patch(client, headers, b1, {"name": "Half done", "units": [bad_unit]}, etag=etag)
    assert_problem(invalid, 422, "validation-failed", pointer="/units/0/residents/0/id_number")
    clash = patch(client, headers, b1, {"name": "Half done", "code": "FT-B2"}, etag=etag)
    assert_problem(clash, 409, "conflict", pointer="/code")
    stolen = fetch(client, as_user("admin"), world.buildings["B2"]).get_json()["units"]
    theft = patch(client, headers, b1, {"name": "Half done", "units": stolen}, etag=etag)
    assert_problem(theft, 409, "conflict", pointer="/units/0/id")

    after = fetch(client, headers, b1)
    assert after.get_json() == before.get_json()
    assert after.headers["ETag"] == etag
    assert versions(db, b1) == 1
    # The other building kept its unit.
    b2 = fetch(client, as_user("admin"), world.buildings["B2"]).get_json()
    assert b2["units"] == stolen


# ---------------------------------------------------------------- history


def test_history_lists_versions_newest_first_with_actor_time_and_changes(client, world, as_user):
    b1 = world.buildings["B1"]
    assert patch(client, as_user("officer1"), b1, {"name": "Block 1"}).status_code == 200
    assert (
        patch(client, as_user("mgr1"), b1, {"floors_above": 6, "notes": "New lift"}).status_code
        == 200
    )

    response = client.get(f"{url(b1)}/history", headers=as_user("officer1"))
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [i["version"] for i in items] == [3, 2, 1]
    assert [i["action"] for i in items] == ["updated", "updated", "created"]
    assert [i["actor_id"] for i in items] == [
        str(world.users["mgr1"]),
        str(world.users["officer1"]),
        str(world.users["admin"]),
    ]
    assert items[0]["changes"] == {
        "floors_above": {"old": 1, "new": 6},
        "notes": {"old": None, "new": "New lift"},
    }
    assert items[1]["changes"] == {"name": {"old": "Building FT-B1", "new": "Block 1"}}
    assert items[2]["changes"]["code"] == {"old": None, "new": "FT-B1"}
    times = [datetime.fromisoformat(i["at"]) for i in items]
    assert all(t.tzinfo is not None for t in times)
    assert times == sorted(times, reverse=True)
    assert response.get_json()["next_cursor"] is None


def test_history_pages_with_a_cursor(client, world, as_user):
    b1 = world.buildings["B1"]
    for floors in (2, 3, 4):
        assert patch(client, as_user("admin"), b1, {"floors_above": floors}).status_code == 200
    walked = pages(client, as_user("admin"), f"{url(b1)}/history", limit=2)
    assert [len(p) for p in walked] == [2, 2]
    seen = [i["version"] for p in walked for i in p]
    assert seen == [4, 3, 2, 1]


def test_history_masks_personal_data_for_masking_roles(client, world, as_user):
    b1 = world.buildings["B1"]
    file = fetch(client, as_user("officer1"), b1).get_json()
    newcomer = {
        "name": "Wang Fang",
        "id_number": "440304199001011233",
        "phone": "13511112222",
        "kind": "floating",
    }
    units = [{**file["units"][0], "residents": [*file["units"][0]["residents"], newcomer]}]
    response = patch(client, as_user("officer1"), b1, {"units": units})
    assert response.status_code == 200, response.get_json()

    whole = client.get(f"{url(b1)}/history", headers=as_user("officer1")).get_json()["items"]
    new_people = whole[0]["changes"]["units"]["new"][0]["residents"]
    assert {(r["id_number"], r["phone"]) for r in new_people} == {
        (VALID_ID_NUMBER, PHONE),
        ("440304199001011233", "13511112222"),
    }

    for persona in ("gw1", "office1", "police1"):
        items = client.get(f"{url(b1)}/history", headers=as_user(persona)).get_json()["items"]
        changes = items[0]["changes"]["units"]
        assert [r["id_number"] for r in changes["old"][0]["residents"]] == [MASKED_ID_NUMBER]
        assert {(r["id_number"], r["phone"]) for r in changes["new"][0]["residents"]} == {
            (MASKED_ID_NUMBER, MASKED_PHONE),
            ("4403**********1233", "135****2222"),
        }
        created = items[-1]["changes"]["units"]
        assert created["old"] is None
        assert created["new"][0]["residents"][0]["id_number"] == MASKED_ID_NUMBER
        text = str(items)
        assert VALID_ID_NUMBER not in text
        assert PHONE not in text


# ---------------------------------------------------------------- masking


@pytest.mark.parametrize(
    ("persona", "masked"),
    [
        ("admin", False),
        ("officer1", False),
        ("mgr1", False),
        ("gw1", True),
        ("office1", True),
        ("police1", True),
    ],
)
def test_personal_data_is_masked_for_roles_that_do_not_register_people(
    client, world, as_user, persona, masked
):
    file = fetch(client, as_user(persona), world.buildings["B1"]).get_json()
    resident = file["units"][0]["residents"][0]
    assert file["personal_data_masked"] is masked
    assert resident["name"] == "Li Wei"
    if masked:
        assert (resident["id_number"], resident["phone"]) == (MASKED_ID_NUMBER, MASKED_PHONE)
    else:
        assert (resident["id_number"], resident["phone"]) == (VALID_ID_NUMBER, PHONE)


def test_patch_answers_are_masked_too_and_the_stored_data_stays_whole(client, world, as_user):
    b1 = world.buildings["B1"]
    response = patch(client, as_user("gw1"), b1, {"name": "Seen by grid staff"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["personal_data_masked"] is True
    assert body["units"][0]["residents"][0]["id_number"] == MASKED_ID_NUMBER
    assert body["units"][0]["residents"][0]["phone"] == MASKED_PHONE

    whole = fetch(client, as_user("admin"), b1).get_json()
    assert whole["units"][0]["residents"][0]["id_number"] == VALID_ID_NUMBER
    assert whole["units"][0]["residents"][0]["phone"] == PHONE


@pytest.mark.parametrize("persona", ["gw1", "office1", "police1", "admin"])
def test_lists_carry_no_personal_data(client, world, as_user, persona):
    response = client.get(API, headers=as_user(persona))
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "units" not in response.get_json()["items"][0]
    for secret in (VALID_ID_NUMBER, PHONE, MASKED_ID_NUMBER, MASKED_PHONE):
        assert secret not in text


# ---------------------------------------------------------------- lists


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("mgr1", ["FT-B1"]),
        ("gw1", ["FT-B1"]),
        ("officer1", ["FT-B1", "FT-B2"]),
        ("office1", ["FT-B1", "FT-B2", "FT-B3"]),
        ("police1", ["FT-B1", "FT-B2", "FT-B3"]),
        ("admin", ["FT-B1", "FT-B2", "FT-B3", "FT-B4"]),
    ],
)
def test_each_persona_lists_exactly_their_buildings(client, world, as_user, persona, expected):
    assert codes(client.get(API, headers=as_user(persona))) == expected


def test_keyset_pages_visit_every_building_once_in_code_order(client, world, as_user):
    headers = as_user("admin")
    new_codes = ["ZX-07", "AB-01", "FT-A5", "MM-22", "FT-B10", "QA-3", "FT-B15"]
    for code in new_codes:
        body = building_payload(code, str(world.areas["G2"]))
        assert client.post(API, json=body, headers=headers).status_code == 201

    walked = pages(client, headers, API, limit=3)
    seen = [i["code"] for p in walked for i in p]
    everyone = sorted([*new_codes, "FT-B1", "FT-B2", "FT-B3", "FT-B4"])
    assert seen == everyone
    assert [len(p) for p in walked] == [3, 3, 3, 2]  # 11 buildings


def test_pages_stay_in_scope(client, world, as_user):
    for code in ("FT-G1-A", "FT-G1-B", "FT-G3-A"):
        grid = "G3" if "G3" in code else "G1"
        body = building_payload(code, str(world.areas[grid]))
        assert client.post(API, json=body, headers=as_user("admin")).status_code == 201
    walked = pages(client, as_user("gw1"), API, limit=1)
    seen = [i["code"] for p in walked for i in p]
    assert seen == ["FT-B1", "FT-G1-A", "FT-G1-B"]


@pytest.mark.parametrize("limit", [0, -1, 201, 1000, "ten"])
def test_limit_out_of_bounds_is_422(client, world, as_user, limit):
    response = client.get(API, query_string={"limit": limit}, headers=as_user("admin"))
    body = assert_problem(response, 422, "validation-failed", pointer="/limit")
    assert body["errors"][0]["location"] == "query"


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "bm90LWpzb24",  # base64 of "not-json"
        "eyJhIjoxfQ",  # base64 of {"a":1}
        "WyJhIiwiYiJd",  # base64 of ["a","b"]: the wrong length
        "WzFd",  # base64 of [1]: not a string
    ],
)
def test_a_garbage_cursor_is_400_invalid_cursor(client, world, as_user, cursor):
    response = client.get(API, query_string={"cursor": cursor}, headers=as_user("admin"))
    assert_problem(response, 400, "invalid-cursor")


def test_filters_by_grid_use_risk_and_overdue(client, world, as_user, db):
    admin = as_user("admin")
    shop = building_payload("FT-C1", str(world.areas["G2"]), use_type="commercial")
    assert client.post(API, json=shop, headers=admin).status_code == 201
    for code in ("B2", "B4"):
        past = {"next_self_check_due_at": "2020-01-01T00:00:00+00:00"}
        assert patch(client, admin, world.buildings[code], past).status_code == 200
    db.execute(
        update(Building).where(Building.id == world.buildings["B3"]).values(risk_level="high")
    )
    db.commit()

    def listed(persona="admin", **query):
        return codes(client.get(API, query_string=query, headers=as_user(persona)))

    assert listed(grid_id=str(world.areas["G2"])) == ["FT-B2", "FT-C1"]
    assert listed(grid_id=str(world.areas["G4"])) == ["FT-B4"]
    assert listed("officer1", grid_id=str(world.areas["G4"])) == []
    assert listed(use_type="commercial") == ["FT-C1"]
    assert listed(use_type="residential") == ["FT-B1", "FT-B2", "FT-B3", "FT-B4"]
    assert listed(risk_level="high") == ["FT-B3"]
    assert listed(risk_level="low") == ["FT-B1", "FT-B2", "FT-B4", "FT-C1"]
    assert listed(overdue="true") == ["FT-B2", "FT-B4"]
    assert listed(overdue="false") == ["FT-B1", "FT-B3", "FT-C1"]
    assert listed("officer1", overdue="true") == ["FT-B2"]
    assert listed("gw1", overdue="true") == []
    assert listed(overdue="true", grid_id=str(world.areas["G2"])) == ["FT-B2"]
    overdue_items = client.get(API, query_string={"overdue": "true"}, headers=admin).get_json()
    assert all(i["self_check"]["overdue"] for i in overdue_items["items"])
    assert_problem(
        client.get(API, query_string={"use_type": "castle"}, headers=admin),
        422,
        "validation-failed",
        pointer="/use_type",
    )


def test_search_by_code_or_address_with_wildcards_taken_literally(client, world, as_user):
    admin = as_user("admin")
    for code, address in (
        ("LH-001", "88 Lianhua Road"),
        ("LH-002", "Unit 50% Plaza"),
        ("LH-003", "Unit 500 Plaza"),
        ("LH-004", "Lot_7 Market"),
        ("LH-005", "Lot 7 Market"),
        ("LH-006", "LotX7 Market"),
    ):
        body = building_payload(code, str(world.areas["G1"]), address=address, name=code)
        assert client.post(API, json=body, headers=admin).status_code == 201

    def search(q, persona="admin"):
        return codes(client.get(API, query_string={"q": q}, headers=as_user(persona)))

    assert search("B3") == ["FT-B3"]
    assert search("ft-b") == ["FT-B1", "FT-B2", "FT-B3", "FT-B4"]
    assert search("lianhua") == ["LH-001"]
    assert search("50%") == ["LH-002"]
    assert search("%") == ["LH-002"]
    assert search("t_7") == ["LH-004"]
    assert search("_") == ["LH-004"]
    assert search("Shuiwei Road") == ["FT-B1", "FT-B2", "FT-B3", "FT-B4"]
    assert search("Shuiwei Road", "gw1") == ["FT-B1"]
    assert search("Market", "gw1") == ["LH-004", "LH-005", "LH-006"]
    assert search("FT-B", "office1") == ["FT-B1", "FT-B2", "FT-B3"]
    assert search("nothing like this") == []
