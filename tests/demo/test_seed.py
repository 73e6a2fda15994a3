"""``flask demo-seed``: a demo district built once, through the services, one account per role."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from fieldapi.areas.models import Area
from fieldapi.buildings.models import Building, BuildingChange, Equipment, Resident, Shop
from fieldapi.core.db import utcnow
from fieldapi.demo.seed import DemoDistrict
from fieldapi.models import Base
from fieldapi.photos.models import Photo, PhotoUse
from fieldapi.users.models import User, UserArea, UserBuilding

EXPECTED_ROLES = {
    "admin": "admin",
    "manager1": "building_manager",
    "gridworker1": "grid_staff",
    "gridworker2": "grid_staff",
    "officer1": "officer",
    "fireoffice1": "fire_office",
    "firepolice1": "fire_police",
}
# The area node each area-scoped account is given, by area code.
EXPECTED_AREA = {
    "gridworker1": "FT-ST-SW-G1",
    "gridworker2": "FT-ST-SW-G2",
    "officer1": "FT-ST-SW",
    "fireoffice1": "FT-ST",
    "firepolice1": "FT",
}
ACCOUNT_LINE = re.compile(r"^  (\S+) +(\S+) +(\S+)$", re.MULTILINE)
MOBILE = re.compile(r"^1[358]\d{9}$")


def gb11643_valid(number: str) -> bool:
    """ISO 7064 MOD 11-2 over all 18 characters: weights 2^k (mod 11), the sum must be 1."""
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return False
    total = sum((10 if ch == "X" else int(ch)) * pow(2, 17 - i, 11) for i, ch in enumerate(number))
    return total % 11 == 1


def cli(app, *args: str, env: dict[str, str] | None = None):
    """Run an operator command as ``flask --app wsgi …`` would, inside the app context."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args), env=env)


def demo_seed(app):
    return cli(app, "demo-seed")


@pytest.fixture
def accounts(app) -> dict[str, tuple[str, str]]:
    """Seed once; the printed table as ``{username: (password, role)}``."""
    result = demo_seed(app)
    assert result.exit_code == 0, result.output
    return {username: (password, role) for username, password, role in
            ACCOUNT_LINE.findall(result.output)}  # fmt: skip


@pytest.fixture
def sign_in(client, accounts):
    def headers(username: str) -> dict[str, str]:
        password, _role = accounts[username]
        response = client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['access_token']}"}

    return headers


def visible(client, headers, **query) -> dict[str, dict]:
    """Every building the caller's list shows, by code, walking all pages."""
    found: dict[str, dict] = {}
    cursor = None
    while True:
        params = {"limit": 7, **query, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/buildings", query_string=params, headers=headers)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        for item in page["items"]:
            assert item["code"] not in found, "a building listed twice"
            found[item["code"]] = item
        cursor = page["next_cursor"]
        if not cursor:
            return found


def codes_by_grid(db) -> dict[str, set[str]]:
    rows = db.execute(select(Area.code, Building.code).join(Building, Building.grid_id == Area.id))
    grids: dict[str, set[str]] = {}
    for grid_code, building_code in rows:
        grids.setdefault(grid_code, set()).add(building_code)
    return grids


def managed_codes(db, username: str) -> set[str]:
    return set(
        db.scalars(
            select(Building.code)
            .join(UserBuilding, UserBuilding.building_id == Building.id)
            .join(User, User.id == UserBuilding.user_id)
            .where(User.username == username)
        )
    )


def row_counts(db) -> dict[str, int]:
    return {
        table.name: db.scalar(select(func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
    }


def test_prints_one_account_per_role_and_creates_them(accounts, db):
    assert {name: role for name, (_password, role) in accounts.items()} == EXPECTED_ROLES
    passwords = [password for password, _role in accounts.values()]
    assert all(len(p) >= 10 for p in passwords)
    assert len(set(passwords)) == len(passwords)
    stored = {u.username: (u.role, u.active) for u in db.scalars(select(User))}
    assert stored == {name: (role, True) for name, role in EXPECTED_ROLES.items()}


def test_accounts_are_given_their_areas_and_buildings(accounts, db):
    given = dict(
        db.execute(
            select(User.username, Area.code)
            .join(UserArea, UserArea.user_id == User.id)
            .join(Area, Area.id == UserArea.area_id)
        ).all()
    )
    assert given == EXPECTED_AREA
    managed = managed_codes(db, "manager1")
    assert len(managed) == 3
    assert managed <= codes_by_grid(db)["FT-ST-SW-G1"]


def test_second_run_creates_nothing_and_changes_nothing(app, accounts, db):
    before = row_counts(db)
    versions = dict(db.execute(select(Building.id, Building.version)).all())
    assert before["areas"] == 6
    assert before["users"] == len(EXPECTED_ROLES)
    assert 25 <= before["buildings"] <= 35
    assert before["residents"] > 100
    db.rollback()

    again = demo_seed(app)

    assert again.exit_code == 0, again.output
    assert "nothing done" in again.output
    assert ACCOUNT_LINE.findall(again.output) == []
    assert row_counts(db) == before
    assert dict(db.execute(select(Building.id, Building.version)).all()) == versions


def test_does_nothing_when_an_account_exists(app, db):
    made = cli(app, "create-admin", "root", env={"FIELDAPI_ADMIN_PASSWORD": "a long password"})
    assert made.exit_code == 0, made.output

    result = demo_seed(app)

    assert result.exit_code == 0, result.output
    assert ACCOUNT_LINE.findall(result.output) == []
    assert db.scalar(select(func.count()).select_from(Building)) == 0
    assert db.scalar(select(func.count()).select_from(Area)) == 0
    assert list(db.scalars(select(User.username))) == ["root"]


def test_every_printed_account_signs_in(client, accounts, sign_in):
    for username, (_password, role) in accounts.items():
        me = client.get("/api/v1/me", headers=sign_in(username))
        assert me.status_code == 200, me.get_json()
        assert (me.get_json()["username"], me.get_json()["role"]) == (username, role)


def test_each_account_lists_only_its_scope(client, db, accounts, sign_in):
    grids = codes_by_grid(db)
    everything = set().union(*grids.values())
    assert set(grids) == {"FT-ST-SW-G1", "FT-ST-SW-G2", "FT-ST-SW-G3"}
    assert all(grids.values())
    managed = managed_codes(db, "manager1")

    seen = {username: set(visible(client, sign_in(username))) for username in accounts}

    assert len(everything) >= 25
    for username in ("admin", "officer1", "fireoffice1", "firepolice1"):
        assert seen[username] == everything, username
    assert seen["manager1"] == managed
    assert len(managed) == 3
    assert managed <= grids["FT-ST-SW-G1"]
    assert seen["gridworker1"] == grids["FT-ST-SW-G1"]
    assert seen["gridworker2"] == grids["FT-ST-SW-G2"]


def test_overdue_filter_returns_the_overdue_files(client, db, accounts, sign_in):
    now = utcnow()
    due = dict(db.execute(select(Building.code, Building.next_self_check_due_at)).all())
    overdue = {code for code, at in due.items() if at < now}
    assert overdue
    assert overdue != set(due)
    admin = sign_in("admin")

    listed = visible(client, admin, overdue="true")
    current = visible(client, admin, overdue="false")

    assert set(listed) == overdue
    assert all(item["self_check"]["overdue"] for item in listed.values())
    assert set(current) == set(due) - overdue
    assert not any(item["self_check"]["overdue"] for item in current.values())
    worker = visible(client, sign_in("gridworker1"), overdue="true")
    assert set(worker) == overdue & codes_by_grid(db)["FT-ST-SW-G1"]


def test_files_are_varied_and_realistic(client, db, accounts, sign_in):
    files = visible(client, sign_in("admin"))
    assert {"rental", "residential", "mixed", "small_venue", "warehouse"} <= {
        item["use_type"] for item in files.values()
    }
    assert {"low", "medium", "high"} <= {item["risk_level"] for item in files.values()}
    assert {item["self_check"]["interval_days"] for item in files.values()} == {7, 30}
    expired = [item for item in files.values() if item["expired_equipment"] > 0]
    assert 0 < len(expired) < len(files)
    kinds = set(db.scalars(select(Equipment.kind)))
    assert {"extinguisher", "hydrant", "smoke_alarm", "emergency_light"} <= kinds

    shops = db.execute(select(Shop.business_type, Shop.licence_number)).all()
    assert {"convenience_store", "ebike_repair", "restaurant"} <= {kind for kind, _ in shops}
    assert all(re.fullmatch(r"[0-9A-Z]{18}", licence) for _kind, licence in shops)

    buildings = list(db.scalars(select(Building)))
    signed = [b for b in buildings if b.statement_signed_on is not None]
    assert len(buildings) / 2 < len(signed) < len(buildings)
    assert all(b.statement_signed_on <= date.today() for b in signed)
    for building in buildings:
        card = building.responsibility
        assert set(card) == {"owner", "manager", "safety_officer"}, building.code
        assert all(MOBILE.match(card[role]["phone"]) for role in card), building.code
        assert re.fullmatch(r"FT-SW-\d{4}", building.code)
    kinds = dict(db.execute(select(Resident.kind, func.count()).group_by(Resident.kind)).all())
    assert kinds.get("permanent", 0) > 0
    assert kinds.get("floating", 0) > 0
    assert db.scalar(select(func.count()).where(Resident.is_tenant.is_(True))) > 0


def test_buildings_lie_inside_their_grid_boundary(db, accounts):
    grids = {area.id: area for area in db.scalars(select(Area).where(Area.kind == "grid"))}
    assert len(grids) == 3
    for building in db.scalars(select(Building)):
        boundary = grids[building.grid_id].boundary
        assert boundary["type"] == "Polygon"
        ring = boundary["coordinates"][0]
        lons, lats = [p[0] for p in ring], [p[1] for p in ring]
        assert min(lons) < building.lon < max(lons), building.code
        assert min(lats) < building.lat < max(lats), building.code
        assert 22.4 < building.lat < 22.7
        assert 113.9 < building.lon < 114.2


def test_every_file_has_its_created_version_by_the_admin(db, accounts):
    admin_id = db.scalar(select(User.id).where(User.username == "admin"))
    changes = db.execute(select(BuildingChange.building_id, BuildingChange.action,
                                BuildingChange.actor_id, BuildingChange.version)).all()  # fmt: skip
    buildings = set(db.scalars(select(Building.id)))
    assert {c.building_id for c in changes} == buildings
    assert len(changes) == len(buildings)
    assert all((c.action, c.actor_id, c.version) == ("created", admin_id, 1) for c in changes)


def test_resident_data_is_masked_for_grid_staff_and_whole_for_officers(
    client, db, accounts, sign_in
):
    grid1 = codes_by_grid(db)["FT-ST-SW-G1"]
    officer, worker = sign_in("officer1"), sign_in("gridworker1")
    building = next(item for code, item in sorted(visible(client, worker).items()) if code in grid1)
    url = f"/api/v1/buildings/{building['id']}"

    whole = client.get(url, headers=officer).get_json()
    masked = client.get(url, headers=worker).get_json()

    assert whole["personal_data_masked"] is False
    assert masked["personal_data_masked"] is True
    pairs = [
        (w, m)
        for wu, mu in zip(whole["units"], masked["units"], strict=True)
        for w, m in zip(wu["residents"], mu["residents"], strict=True)
    ]
    assert pairs
    for w, m in pairs:
        assert gb11643_valid(w["id_number"])
        assert m["id_number"] == w["id_number"][:4] + "*" * 10 + w["id_number"][-4:]
        assert MOBILE.match(w["phone"])
        assert m["phone"] == w["phone"][:3] + "****" + w["phone"][-4:]
        assert m["name"] == w["name"]
    elsewhere = db.scalar(
        select(Building.id)
        .join(Area, Area.id == Building.grid_id)
        .where(Area.code == "FT-ST-SW-G2")
    )
    assert client.get(f"/api/v1/buildings/{elsewhere}", headers=worker).status_code == 404
    assert client.get(f"/api/v1/buildings/{elsewhere}", headers=officer).status_code == 200


def test_every_stored_identity_number_passes_the_checksum(db, accounts):
    numbers = list(db.scalars(select(Resident.id_number)))
    assert len(numbers) > 100
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        assert gb11643_valid(number), number
        born = datetime.strptime(number[6:14], "%Y%m%d").date()
        assert date(1940, 1, 1) < born < date.today()


def test_checksum_helper_agrees_with_a_known_number():
    assert gb11643_valid("11010519491231002X")
    assert not gb11643_valid("110105194912310021")


def test_the_same_district_every_run():
    first = DemoDistrict()
    second = DemoDistrict(now=first.now)
    card = {"name": "陈国平", "phone": "13926581234"}

    assert list(first.files(card)) == list(second.files(card))


def test_field_work_at_every_stage(client, accounts, sign_in):
    """Each reviewer finds work at their stage, the manager finds returned work and hazards
    to rectify, and the district has open and overdue hazards."""
    stages = {}
    for who in ("gridworker1", "gridworker2", "fireoffice1", "firepolice1", "manager1"):
        response = client.get("/api/v1/inbox", query_string={"limit": 200}, headers=sign_in(who))
        assert response.status_code == 200, response.get_json()
        stages[who] = {(item["kind"], item["stage"]) for item in response.get_json()["items"]}
    assert ("review", "grid_review") in stages["gridworker1"]
    assert ("review", "grid_review") in stages["gridworker2"]
    assert ("review", "office_review") in stages["fireoffice1"]
    assert ("review", "police_review") in stages["firepolice1"]
    assert ("returned", "returned") in stages["manager1"]
    assert ("hazard_due", None) in stages["manager1"]

    response = client.get(
        "/api/v1/submissions", query_string={"limit": 200}, headers=sign_in("firepolice1")
    )
    seen = {item["stage"] for item in response.get_json()["items"]}
    assert seen == {"grid_review", "office_review", "police_review", "closed", "returned"}

    hazards = client.get(
        "/api/v1/hazards", query_string={"limit": 200}, headers=sign_in("firepolice1")
    ).get_json()["items"]
    assert any(h["status"] == "open" and not h["overdue"] for h in hazards)
    assert any(h["overdue"] for h in hazards)
    assert any(h["status"] == "rectifying" for h in hazards)


def test_field_photos_are_verified_and_taken_at_the_building(db, accounts):
    uses = db.scalars(select(PhotoUse)).all()
    assert uses, "the demo's inspections carry photos"
    assert all(db.get(Photo, use.photo_id).status == "verified" for use in uses)
    assert not [use.flags for use in uses if use.flags], "demo photos raise no flags"
