"""What the building file refuses: each case is a 422 problem naming the field, and nothing
is stored."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from fieldapi.buildings.models import Building, BuildingChange, Resident, Unit
from tests.buildings import assert_problem, full_file

API = "/api/v1/buildings"
TOMORROW = (date.today() + timedelta(days=1)).isoformat()


def _set(path: str, value):
    """A change to the file at a slash-separated path (list indexes as numbers)."""

    def apply(body: dict) -> None:
        *parents, last = path.split("/")
        target = body
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return apply


def _drop(name: str):
    def apply(body: dict) -> None:
        del body[name]

    return apply


def _duplicate_unit_id(body: dict) -> None:
    body["units"][1]["id"] = body["units"][0]["id"]


def _duplicate_resident_id(body: dict) -> None:
    residents = body["units"][0]["residents"]
    residents[1]["id"] = residents[0]["id"]


def _resident_in_two_units(body: dict) -> None:
    body["units"][1]["residents"] = [dict(body["units"][0]["residents"][0])]


def _too_many_units(body: dict) -> None:
    body["units"] = [{"label": str(i), "floor": 1} for i in range(2001)]


def _too_many_residents(body: dict) -> None:
    body["units"][0]["residents"] = [{"name": f"P{i}", "kind": "floating"} for i in range(101)]


INVALID = {
    "lat 91": (_set("location/lat", 91), "/location/lat"),
    "lat -90.5": (_set("location/lat", -90.5), "/location/lat"),
    "lon -181": (_set("location/lon", -181), "/location/lon"),
    "lat as a string": (_set("location/lat", "22.5"), "/location/lat"),
    "location without lon": (_set("location", {"lat": 22.5}), "/location/lon"),
    "unknown use_type": (_set("use_type", "castle"), "/use_type"),
    "floors_above -1": (_set("floors_above", -1), "/floors_above"),
    "floors_above 500": (_set("floors_above", 500), "/floors_above"),
    "floors_above as a string": (_set("floors_above", "9"), "/floors_above"),
    "floors_above as a fraction": (_set("floors_above", 9.5), "/floors_above"),
    "floors_above as a boolean": (_set("floors_above", True), "/floors_above"),
    "height as a string": (_set("height_m", "28"), "/height_m"),
    "year_built 1700": (_set("year_built", 1700), "/year_built"),
    "year_built far ahead": (_set("year_built", date.today().year + 50), "/year_built"),
    "unknown structure": (_set("structure", "straw"), "/structure"),
    "code with a lookalike letter": (_set("code", "FT-\u017fW-0012"), "/code"),
    "code too long": (_set("code", "A" * 41), "/code"),
    "code of one character": (_set("code", "A"), "/code"),
    "code with a space": (_set("code", "FT SW 12"), "/code"),
    "no code": (_drop("code"), "/code"),
    "no grid": (_drop("grid_id"), "/grid_id"),
    "grid not a uuid": (_set("grid_id", "G1"), "/grid_id"),
    "name as a list": (_set("name", ["Block", "12"]), "/name"),
    "empty name": (_set("name", ""), "/name"),
    "null name": (_set("name", None), "/name"),
    "unknown top-level field": (_set("colour", "red"), "/colour"),
    "read-only field sent": (_set("risk_level", "low"), "/risk_level"),
    "unknown unit field": (_set("units/0/balcony", True), "/units/0/balcony"),
    "unknown resident field": (
        _set("units/0/residents/0/religion", "x"),
        "/units/0/residents/0/religion",
    ),
    "unknown contact field": (
        _set("responsibility/owner/email", "a@b.c"),
        "/responsibility/owner/email",
    ),
    "contact without a name": (
        _set("responsibility/manager", {"phone": "13900001111"}),
        "/responsibility/manager/name",
    ),
    "contact phone garbage": (
        _set("responsibility/owner/phone", "call the office"),
        "/responsibility/owner/phone",
    ),
    "id number with a wrong check digit": (
        _set("units/0/residents/0/id_number", "110105194912310021"),
        "/units/0/residents/0/id_number",
    ),
    "id number with punctuation": (
        _set("units/0/residents/0/id_number", "E123-456"),
        "/units/0/residents/0/id_number",
    ),
    "resident phone garbage": (
        _set("units/0/residents/0/phone", "not a phone"),
        "/units/0/residents/0/phone",
    ),
    "resident of an unknown kind": (
        _set("units/0/residents/1/kind", "visitor"),
        "/units/0/residents/1/kind",
    ),
    "resident registered tomorrow": (
        _set("units/0/residents/0/registered_on", TOMORROW),
        "/units/0/residents/0/registered_on",
    ),
    "unit without a label": (_set("units/1", {"floor": 2}), "/units/1/label"),
    "unit floor as a string": (_set("units/0/floor", "1"), "/units/0/floor"),
    "statement signed tomorrow": (_set("statement/signed_on", TOMORROW), "/statement/signed_on"),
    "statement photo not a uuid": (_set("statement/photo_id", "photo.jpg"), "/statement/photo_id"),
    "statement date garbage": (_set("statement/signed_on", "last spring"), "/statement/signed_on"),
    "shop licence in lower case": (
        _set("shops/0/licence_number", "91440300ma5f00001x"),
        "/shops/0/licence_number",
    ),
    "shop without a business type": (
        _set("shops/0", {"name": "Kiosk"}),
        "/shops/0/business_type",
    ),
    "unknown equipment kind": (_set("equipment/0/kind", "bucket"), "/equipment/0/kind"),
    "negative equipment count": (_set("equipment/1/count", -3), "/equipment/1/count"),
    "equipment serviced tomorrow": (
        _set("equipment/1/last_service_on", TOMORROW),
        "/equipment/1/last_service_on",
    ),
    "due date without a time zone": (
        _set("next_self_check_due_at", "2040-01-01T00:00:00"),
        "/next_self_check_due_at",
    ),
    "self-check every 0 days": (_set("self_check_interval_days", 0), "/self_check_interval_days"),
    "units not a list": (_set("units", {"label": "101"}), "/units"),
    "duplicate unit ids": (_duplicate_unit_id, "/units/1/id"),
    "duplicate resident ids": (_duplicate_resident_id, "/units/0/residents/1/id"),
    "one resident in two units": (_resident_in_two_units, "/units/1/residents/0/id"),
    "more than 2000 units": (_too_many_units, "/units"),
    "more than 100 residents in a unit": (_too_many_residents, "/units/0/residents"),
}


def _stored_rows(db) -> dict[str, int]:
    db.expire_all()
    return {
        model.__tablename__: db.scalar(select(func.count()).select_from(model))
        for model in (Building, BuildingChange, Unit, Resident)
    }


@pytest.mark.parametrize(("change", "pointer"), INVALID.values(), ids=INVALID.keys())
def test_create_refuses_invalid_files(client, world, as_user, db, change, pointer):
    body = full_file(world.areas["G1"])
    change(body)
    rows_before = _stored_rows(db)

    response = client.post(API, json=body, headers=as_user("admin"))

    problem = assert_problem(response, 422, "validation-failed", pointer=pointer)
    assert all(e["detail"] for e in problem["errors"])
    assert _stored_rows(db) == rows_before
    assert client.get(f"{API}/{body['id']}", headers=as_user("admin")).status_code == 404


def test_the_valid_file_the_cases_start_from_is_accepted(client, world, as_user):
    """Guards the table above: each case fails for its own change, not for the base file."""
    body = full_file(world.areas["G1"])
    assert client.post(API, json=body, headers=as_user("admin")).status_code == 201


def test_every_error_is_reported_at_once(client, world, as_user):
    body = full_file(world.areas["G1"], code="not a code", floors_above=-1)
    body["location"]["lat"] = 91
    response = client.post(API, json=body, headers=as_user("admin"))
    problem = assert_problem(response, 422, "validation-failed")
    assert {e["pointer"] for e in problem["errors"]} == {
        "/code",
        "/floors_above",
        "/location/lat",
    }


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        (INVALID["lat 91"][0], "/location/lat"),
        (INVALID["location without lon"][0], "/location/lon"),
        (INVALID["floors_above as a string"][0], "/floors_above"),
        (INVALID["code with a space"][0], "/code"),
        (INVALID["unknown unit field"][0], "/units/0/balcony"),
        (INVALID["unit without a label"][0], "/units/1/label"),
        (INVALID["id number with a wrong check digit"][0], "/units/0/residents/0/id_number"),
        (INVALID["contact without a name"][0], "/responsibility/manager/name"),
        (INVALID["statement signed tomorrow"][0], "/statement/signed_on"),
        (INVALID["duplicate unit ids"][0], "/units/1/id"),
        (INVALID["null name"][0], "/name"),
        (_set("id", str(uuid.uuid4())), "/id"),
    ],
)
def test_patch_refuses_the_same_and_stores_nothing(client, world, as_user, db, change, pointer):
    """A change is checked as strictly as a new file; nested items sent must be whole."""
    headers = as_user("admin")
    body = full_file(world.areas["G1"])
    created = client.post(API, json=body, headers=headers)
    assert created.status_code == 201
    patch = copy.deepcopy(body)
    change(patch)
    top = pointer.split("/")[1]
    sent = {top: patch[top]}
    rows_before = _stored_rows(db)

    response = client.patch(
        f"{API}/{body['id']}",
        json=sent,
        headers={**headers, "If-Match": created.headers["ETag"]},
    )

    assert_problem(response, 422, "validation-failed", pointer=pointer)
    assert _stored_rows(db) == rows_before
    after = client.get(f"{API}/{body['id']}", headers=headers)
    assert after.headers["ETag"] == created.headers["ETag"]
    assert after.get_json() == created.get_json()


@pytest.mark.parametrize("body", [[], "a string", 42, None])
def test_a_body_that_is_not_an_object_is_422(client, world, as_user, body):
    response = client.post(
        API,
        data=json.dumps(body),
        content_type="application/json",
        headers=as_user("admin"),
    )
    assert_problem(response, 422, "validation-failed")


def test_unreadable_json_is_400(client, world, as_user):
    response = client.post(
        API, data='{"code": ', content_type="application/json", headers=as_user("admin")
    )
    assert_problem(response, 400, "malformed-request")


def test_lower_case_check_letter_is_accepted_and_stored_in_capitals(client, world, as_user):
    body = full_file(world.areas["G1"])
    body["units"][0]["residents"][0]["id_number"] = "11010519491231002x"
    response = client.post(API, json=body, headers=as_user("admin"))
    assert response.status_code == 201, response.get_json()
    resident = response.get_json()["units"][0]["residents"][0]
    assert resident["id_number"] == "11010519491231002X"
