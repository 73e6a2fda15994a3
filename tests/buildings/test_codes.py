"""Building codes in capitals: sent in any case, stored, compared and answered in capitals."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from fieldapi.buildings.models import Building
from tests.buildings import assert_problem, full_file
from tests.support.world import building_payload

API = "/api/v1/buildings"


def stored_code(db, building_id) -> str | None:
    db.expire_all()
    return db.scalar(select(Building.code).where(Building.id == uuid.UUID(str(building_id))))


def with_code(code: str, grid_id) -> dict:
    return building_payload(code, str(grid_id), id=str(uuid.uuid4()))


@pytest.mark.parametrize("sent", ["ft-sw-0012", "Ft-Sw-0012", "FT-sw-0012", "FT-SW-0012"])
def test_a_code_in_any_case_is_stored_in_capitals(client, world, as_user, db, sent):
    body = full_file(world.areas["G1"], code=sent)

    created = client.post(API, json=body, headers=as_user("officer1"))

    assert created.status_code == 201, created.get_json()
    assert created.get_json()["code"] == "FT-SW-0012"
    assert stored_code(db, body["id"]) == "FT-SW-0012"
    read = client.get(f"{API}/{body['id']}", headers=as_user("officer1"))
    assert read.get_json()["code"] == "FT-SW-0012"


@pytest.mark.parametrize(
    ("first", "second"), [("FT-SW-0012", "ft-sw-0012"), ("ft-sw-0012", "FT-sw-0012")]
)
def test_one_code_in_two_cases_is_one_code(client, world, as_user, db, first, second):
    grid = world.areas["G1"]
    assert (
        client.post(API, json=with_code(first, grid), headers=as_user("officer1")).status_code
        == 201
    )
    clash = with_code(second, grid)

    answer = client.post(API, json=clash, headers=as_user("officer1"))

    assert_problem(answer, 409, "conflict", pointer="/code")
    assert stored_code(db, clash["id"]) is None
    assert db.scalar(select(func.count()).where(Building.code == "FT-SW-0012")) == 1


def test_a_world_building_code_in_lower_case_is_taken(client, world, as_user, db):
    """The codes already stored (FT-B1, …) count against lower-case ones too."""
    clash = with_code("ft-b1", world.areas["G1"])
    assert_problem(
        client.post(API, json=clash, headers=as_user("officer1")), 409, "conflict", pointer="/code"
    )


def test_a_retried_lower_case_create_is_the_same_file(client, world, as_user):
    """The retry of a create sent in lower case answers the stored file, not a conflict."""
    body = full_file(world.areas["G1"], code="ft-sw-0012")
    first = client.post(API, json=body, headers=as_user("officer1"))
    assert first.status_code == 201, first.get_json()

    again = client.post(API, json=body, headers=as_user("officer1"))

    assert again.status_code == 200, again.get_json()
    assert again.get_json() == first.get_json()


def _patch(client, headers, building_id, body):
    etag = client.get(f"{API}/{building_id}", headers=headers).headers["ETag"]
    return client.patch(f"{API}/{building_id}", json=body, headers={**headers, "If-Match": etag})


def test_a_changed_code_is_stored_in_capitals(client, world, as_user, db):
    building_id = world.buildings["B1"]

    changed = _patch(client, as_user("admin"), building_id, {"code": "ft-sw-0099"})

    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["code"] == "FT-SW-0099"
    assert stored_code(db, building_id) == "FT-SW-0099"


def test_its_own_code_in_lower_case_changes_nothing(client, world, as_user, db):
    building_id = world.buildings["B1"]
    own = stored_code(db, building_id)

    answer = _patch(client, as_user("admin"), building_id, {"code": own.lower()})

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["code"] == own
    assert stored_code(db, building_id) == own


def test_changing_to_another_buildings_code_in_lower_case_is_409(client, world, as_user, db):
    building_id = world.buildings["B1"]
    other = stored_code(db, world.buildings["B2"])
    before = stored_code(db, building_id)

    answer = _patch(client, as_user("admin"), building_id, {"code": other.lower()})

    assert_problem(answer, 409, "conflict", pointer="/code")
    assert stored_code(db, building_id) == before


@pytest.mark.parametrize("term", ["ft-sw-0012", "FT-SW-0012", "sw-00"])
def test_the_list_finds_a_code_in_any_case(client, world, as_user, term):
    body = full_file(world.areas["G1"], code="FT-SW-0012")
    assert client.post(API, json=body, headers=as_user("officer1")).status_code == 201

    found = client.get(API, query_string={"q": term}, headers=as_user("officer1"))

    assert found.status_code == 200, found.get_json()
    assert [b["code"] for b in found.get_json()["items"]] == ["FT-SW-0012"]


@pytest.mark.parametrize(
    "code",
    ["FT-\u017fW-0012", "FT-SW-\u0131", "\ufb00-0012", "FT-SW-００１２"],
    ids=["long s", "dotless i", "ff ligature", "full-width digits"],
)
def test_letters_that_only_look_like_capitals_are_refused(client, world, as_user, db, code):
    """Upper-casing these would give A-Z codes; they are refused as sent instead."""
    body = with_code(code, world.areas["G1"])
    answer = client.post(API, json=body, headers=as_user("officer1"))
    assert_problem(answer, 422, "validation-failed", pointer="/code")
    assert stored_code(db, body["id"]) is None
