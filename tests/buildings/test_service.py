"""The building file's rules, called as the views call them: versions, replays, scope, masks."""

from __future__ import annotations

import uuid

import pytest
from marshmallow import ValidationError
from sqlalchemy import func, select

from fieldapi.buildings import listing, service
from fieldapi.buildings.models import Building, BuildingChange, Unit
from fieldapi.buildings.present import mask_id_number, mask_phone, present, present_change
from fieldapi.buildings.schemas import (
    BuildingSchema,
    BuildingUpdateSchema,
    BuildingWriteSchema,
    check_id_number,
)
from fieldapi.core.problems import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)
from fieldapi.core.scope import Actor
from tests.buildings import MASKED_ID_NUMBER, MASKED_PHONE, VALID_ID_NUMBER, full_file
from tests.support.world import PERSONAS, building_payload


@pytest.fixture
def actors(world) -> dict[str, Actor]:
    roles = {name: role for name, (role, _a, _b) in PERSONAS.items()}
    return {
        name: Actor(user_id=world.users[name], username=name, role=roles[name]) for name in PERSONAS
    }


def new_file(payload: dict) -> dict:
    return BuildingWriteSchema().load(payload)


def changes(payload: dict) -> dict:
    return BuildingUpdateSchema().load(payload)


def change_count(db, building_id) -> int:
    return db.scalar(
        select(func.count())
        .select_from(BuildingChange)
        .where(BuildingChange.building_id == building_id)
    )


# ---------------------------------------------------------------- pure rules


@pytest.mark.parametrize(
    "number",
    [VALID_ID_NUMBER, "11010519491231002x", "440304199001011233", "E12345678", "P1234567"],
)
def test_identity_numbers_accepted(number):
    check_id_number(number)


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check digit
        "11010519491231002Y",
        "440304199001011234",
        "1234",  # too short for any document
        "E123-4567",
        "身份证号码12345",
        "A" * 21,
    ],
)
def test_identity_numbers_refused(number):
    with pytest.raises(ValidationError):
        check_id_number(number)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (VALID_ID_NUMBER, MASKED_ID_NUMBER),
        ("E12345678", "E*******8"),
        (None, None),
        ("", ""),
    ],
)
def test_mask_id_number(value, masked):
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", MASKED_PHONE),
        ("138 1234 5678", MASKED_PHONE),
        ("0755-8888-1234", "075*****1234"),
        ("12345", "*****"),
        (None, None),
    ],
)
def test_mask_phone(value, masked):
    assert mask_phone(value) == masked


# ---------------------------------------------------------------- create


def test_create_records_version_one_with_every_field(db, world, actors):
    payload = full_file(world.areas["G1"])
    building, created = service.open_building(
        db=db, actor=actors["officer1"], data=new_file(payload)
    )
    db.commit()

    assert created is True
    assert building.id == uuid.UUID(payload["id"])
    assert building.version == 1
    assert building.created_by == world.users["officer1"]
    (change,) = db.scalars(select(BuildingChange).where(BuildingChange.building_id == building.id))
    assert (change.version, change.action, change.actor_id) == (1, "created", building.created_by)
    assert change.changes["code"] == {"old": None, "new": payload["code"]}
    assert change.changes["units"]["new"][0]["residents"][0]["id_number"] == VALID_ID_NUMBER


def test_create_without_a_schedule_is_due_one_interval_later(db, world, actors):
    building = service.create_building(
        db=db,
        actor=actors["admin"],
        data=new_file(building_payload("FT-SCHED", str(world.areas["G1"]))),
    )
    assert building.self_check_interval_days == 30
    assert (building.next_self_check_due_at - building.created_at).days in (29, 30)


def test_a_replayed_create_returns_the_stored_file_without_a_new_version(db, world, actors):
    payload = full_file(world.areas["G1"])
    first, _ = service.open_building(db=db, actor=actors["officer1"], data=new_file(payload))
    db.commit()

    again, created = service.open_building(db=db, actor=actors["officer1"], data=new_file(payload))
    assert created is False
    assert again is first
    assert change_count(db, first.id) == 1

    with pytest.raises(Conflict):
        service.open_building(
            db=db, actor=actors["officer1"], data=new_file({**payload, "floors_above": 10})
        )
    # Someone who cannot see the file gets the conflict, never the file.
    elsewhere = building_payload("FT-G2-X", str(world.areas["G2"]), id=str(uuid.uuid4()))
    service.open_building(db=db, actor=actors["officer1"], data=new_file(elsewhere))
    db.commit()
    with pytest.raises(Conflict):
        service.open_building(db=db, actor=actors["gw1"], data=new_file(elsewhere))


@pytest.mark.parametrize("grid", ["G2", "Shuiwei"])
def test_create_outside_the_actors_grids_is_refused(db, world, actors, grid):
    data = new_file(building_payload("FT-OUT", str(world.areas[grid])))
    with pytest.raises(ValidationFailed) as raised:
        service.create_building(db=db, actor=actors["gw1"], data=data)
    assert raised.value.errors == [{"pointer": "/grid_id", "detail": "No such grid in your area."}]


def test_item_ids_of_another_building_are_refused(db, world, actors):
    b2_unit = db.scalar(select(Unit).where(Unit.building_id == world.buildings["B2"]))
    payload = building_payload(
        "FT-THIEF",
        str(world.areas["G1"]),
        units=[
            {"label": "1", "floor": 1},
            {"id": str(b2_unit.id), "label": "2", "floor": 2},
        ],
    )
    with pytest.raises(Conflict) as raised:
        service.create_building(db=db, actor=actors["admin"], data=new_file(payload))
    assert raised.value.errors[0]["pointer"] == "/units/1/id"

    b2_resident = b2_unit.residents[0]
    payload["units"] = [
        {
            "label": "1",
            "floor": 1,
            "residents": [{"id": str(b2_resident.id), "name": "X", "kind": "floating"}],
        }
    ]
    with pytest.raises(Conflict) as raised:
        service.create_building(db=db, actor=actors["admin"], data=new_file(payload))
    assert raised.value.errors[0]["pointer"] == "/units/0/residents/0/id"


# ---------------------------------------------------------------- update


def _update(db, actor, building_id, data, etag="current"):
    if etag == "current":
        etag = service.building_etag(db.get(Building, building_id))
    building = service.update_building(
        db=db, actor=actor, building_id=building_id, data=changes(data), if_match=etag
    )
    db.commit()
    return building


def test_an_update_records_only_the_fields_that_changed(db, world, actors):
    b1 = world.buildings["B1"]
    building = _update(db, actors["officer1"], b1, {"name": "Block 1", "floors_above": 1})

    assert building.version == 2
    change = db.scalar(
        select(BuildingChange).where(BuildingChange.building_id == b1, BuildingChange.version == 2)
    )
    assert change.action == "updated"
    assert change.actor_id == world.users["officer1"]
    assert change.changes == {"name": {"old": "Building FT-B1", "new": "Block 1"}}


def test_an_update_that_changes_nothing_keeps_the_version(db, world, actors):
    b1 = world.buildings["B1"]
    etag = service.building_etag(db.get(Building, b1))
    file = BuildingSchema().dump(present(db.get(Building, b1), actors["admin"]))
    # The same file, its items listed in another order.
    same = {
        "name": file["name"],
        "location": file["location"],
        "units": [
            {**u, "residents": list(reversed(u["residents"]))} for u in reversed(file["units"])
        ],
    }
    building = _update(db, actors["admin"], b1, same, etag=etag)

    assert building.version == 1
    assert service.building_etag(building) == etag
    assert change_count(db, b1) == 1


def test_the_etag_is_checked_before_anything_else(db, world, actors):
    b1 = world.buildings["B1"]
    with pytest.raises(PreconditionRequired):
        _update(db, actors["officer1"], b1, {"name": "x"}, etag=None)
    with pytest.raises(PreconditionFailed):
        _update(db, actors["officer1"], b1, {"name": "x"}, etag='"stale"')
    db.rollback()
    assert db.get(Building, b1).name == "Building FT-B1"


def test_managers_cannot_move_or_recode(db, world, actors):
    b1 = world.buildings["B1"]
    with pytest.raises(Forbidden):
        _update(db, actors["mgr1"], b1, {"code": "FT-NEW"})
    db.rollback()
    with pytest.raises(Forbidden):
        _update(db, actors["mgr1"], b1, {"grid_id": str(world.areas["G2"])})
    db.rollback()
    building = _update(db, actors["mgr1"], b1, {"code": "FT-B1", "notes": "Lift repaired"})
    assert (building.code, building.notes, building.version) == ("FT-B1", "Lift repaired", 2)


def test_grid_staff_cannot_write_residents(db, world, actors):
    with pytest.raises(Forbidden):
        _update(db, actors["gw1"], world.buildings["B1"], {"units": []})


def test_out_of_scope_is_not_found(db, world, actors):
    with pytest.raises(NotFound):
        _update(db, actors["gw1"], world.buildings["B2"], {"name": "x"}, etag="*")
    with pytest.raises(NotFound):
        service.get_building(db=db, actor=actors["mgr1"], building_id=world.buildings["B2"])


def test_a_code_in_use_is_a_conflict_naming_code(db, world, actors):
    with pytest.raises(Conflict) as raised:
        _update(db, actors["officer1"], world.buildings["B1"], {"code": "FT-B2"})
    assert raised.value.errors == [
        {"pointer": "/code", "detail": "Already used by another building."}
    ]


# ---------------------------------------------------------------- reading


def test_lists_follow_scope(db, world, actors):
    expected = {
        "admin": ["FT-B1", "FT-B2", "FT-B3", "FT-B4"],
        "mgr1": ["FT-B1"],
        "gw1": ["FT-B1"],
        "officer1": ["FT-B1", "FT-B2"],
        "office1": ["FT-B1", "FT-B2", "FT-B3"],
        "police1": ["FT-B1", "FT-B2", "FT-B3"],
    }
    for name, codes in expected.items():
        items, cursor = listing.list_buildings(
            db=db, actor=actors[name], filters={}, limit=50, cursor=None
        )
        assert [b["code"] for b in items] == codes, name
        assert cursor is None


def test_history_is_newest_first_and_masked_for_grid_staff(db, world, actors):
    b1 = world.buildings["B1"]
    _update(db, actors["admin"], b1, {"floors_above": 3})
    _update(db, actors["admin"], b1, {"floors_above": 4})
    items, _ = service.list_changes(
        db=db, actor=actors["gw1"], building_id=b1, limit=10, cursor=None
    )
    assert [c.version for c in items] == [3, 2, 1]
    created = present_change(items[-1], actors["gw1"])["changes"]["units"]
    assert created["old"] is None
    assert created["new"][0]["residents"][0]["id_number"] == MASKED_ID_NUMBER
    whole = present_change(items[-1], actors["officer1"])["changes"]["units"]
    assert whole["new"][0]["residents"][0]["id_number"] == VALID_ID_NUMBER
    # Masking is for the reader only: the stored history keeps the whole value.
    assert items[-1].changes["units"]["new"][0]["residents"][0]["id_number"] == VALID_ID_NUMBER


def test_the_answer_lists_items_in_a_fixed_order(db, world, actors):
    payload = full_file(world.areas["G1"])
    payload["units"].reverse()
    payload["equipment"].reverse()
    payload["units"][1]["residents"].reverse()
    building = service.create_building(db=db, actor=actors["admin"], data=new_file(payload))
    db.commit()
    file = present(building, actors["admin"])
    assert [u["label"] for u in file["units"]] == ["101", "201"]
    assert [r["name"] for r in file["units"][0]["residents"]] == ["Li Wei", "Zhang Min"]
    assert [e["kind"] for e in file["equipment"]] == ["emergency_light", "extinguisher"]
    db.expire_all()
    assert present(db.get(Building, building.id), actors["admin"]) == file


def test_a_replay_that_left_the_due_date_empty_is_still_the_same_file(db, world, actors):
    payload = building_payload(
        "FT-NODUE", str(world.areas["G1"]), id=str(uuid.uuid4()), next_self_check_due_at=None
    )
    first, created = service.open_building(db=db, actor=actors["gw1"], data=new_file(payload))
    db.commit()
    assert created is True
    assert first.next_self_check_due_at is not None  # filled in from the interval
    again, created = service.open_building(db=db, actor=actors["gw1"], data=new_file(payload))
    assert (again, created) == (first, False)
