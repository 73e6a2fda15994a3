"""GET /api/v1/sync: a full copy of the caller's scope, deltas, scope moves, paging, cursors.

The test world (tests/support/world.py): gw1 covers grid G1 (building B1); officer1 covers
G1 and G2; mgr1 manages B1; B4 lies outside everyone's scope but the admin's.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import orjson
import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select, update

from fieldapi.buildings.models import Building, Resident, Unit
from fieldapi.checklists.defaults import ensure_defaults
from fieldapi.core.scope import Actor
from fieldapi.photos.models import PhotoUse
from fieldapi.sync import capture, documents
from fieldapi.sync.encoding import JSON_OPTIONS, as_json_list
from fieldapi.sync.entities import ENTITIES as ENTITY_SHAPES
from fieldapi.sync.models import SyncChange
from fieldapi.users.models import UserArea
from tests.conftest import TEST_SECRET
from tests.fieldwork.conftest import Field
from tests.support.world import building_payload

ENTITIES = (
    "templates",
    "buildings",
    "inspections",
    "hazards",
    "rectifications",
    "submissions",
    "photos",
)


@pytest.fixture
def field(client, app, world, as_user) -> Field:
    with app.extensions["fieldapi.sessionmaker"]() as db:
        ensure_defaults(db)
        db.commit()
    return Field(client, app, world, as_user)


class Phone:
    """A phone's offline copy, kept by pulling until has_more is false."""

    def __init__(self, client, headers) -> None:
        self.client = client
        self.headers = headers
        self.cursor: str | None = None
        self.objects: dict[str, dict[str, dict]] = {name: {} for name in ENTITIES}
        self.pages: list[dict] = []

    def get(self, cursor=None, limit=None, **headers):
        params = {}
        if cursor is not None:
            params["cursor"] = cursor
        if limit is not None:
            params["limit"] = limit
        return self.client.get(
            "/api/v1/sync", query_string=params, headers={**self.headers, **headers}
        )

    def pull(self, limit=None, max_pages=200) -> list[dict]:
        pages = []
        for _ in range(max_pages):
            response = self.get(self.cursor, limit)
            assert response.status_code == 200, response.get_json()
            page = response.get_json()
            self.apply(page)
            pages.append(page)
            if not page["has_more"]:
                self.pages.extend(pages)
                return pages
        raise AssertionError("sync never drained")

    def apply(self, page: dict) -> None:
        assert set(page["changes"]) == set(ENTITIES)
        for name, delta in page["changes"].items():
            for gone in delta["deleted"]:
                self.objects[name].pop(gone, None)
            for item in delta["upserted"]:
                self.objects[name][item["id"]] = item
        self.cursor = page["next_cursor"]

    def ids(self, name: str) -> set[str]:
        return set(self.objects[name])


def upserted(pages, name) -> set[str]:
    return {item["id"] for page in pages for item in page["changes"][name]["upserted"]}


def deleted(pages, name) -> set[str]:
    return {i for page in pages for i in page["changes"][name]["deleted"]}


@pytest.fixture
def phone(client, as_user):
    return lambda who: Phone(client, as_user(who))


def _add_building(app, world, code: str, grid: str) -> str:
    from fieldapi.buildings.service import create_building

    with app.extensions["fieldapi.sessionmaker"]() as db:
        admin = Actor(user_id=world.users["admin"], username="admin", role="admin")
        building = create_building(
            db=db, actor=admin, data=building_payload(code, world.areas[grid])
        )
        db.commit()
        return str(building.id)


def _move(client, as_user, world, building: str, grid: str):
    path = f"/api/v1/buildings/{world.buildings[building]}"
    etag = client.get(path, headers=as_user("admin")).headers["ETag"]
    response = client.patch(
        path,
        json={"grid_id": str(world.areas[grid])},
        headers={**as_user("admin"), "If-Match": etag},
    )
    assert response.status_code == 200, response.get_json()


# --- full copy ---------------------------------------------------------------------------


def test_full_copy_is_the_scope_and_nothing_else(field, world, phone):
    inspection = field.submitted("mgr1", "B1")
    hazard = field.report("officer1", "B2").get_json()
    gw = phone("gw1")
    pages = gw.pull()
    assert not pages[-1]["has_more"]
    assert gw.ids("buildings") == {str(world.buildings["B1"])}
    assert gw.ids("inspections")
    assert all(
        i["building_id"] == str(world.buildings["B1"]) for i in gw.objects["inspections"].values()
    )
    assert gw.ids("submissions") == {inspection["submission_id"]}
    assert hazard["id"] not in gw.ids("hazards")  # B2 lies in G2, outside gw1's grid
    assert gw.objects["templates"], "templates are sent to everyone"
    officer = phone("officer1")
    officer.pull()
    assert officer.ids("buildings") == {str(world.buildings["B1"]), str(world.buildings["B2"])}
    assert hazard["id"] in officer.ids("hazards")


def test_nothing_out_of_scope_ever_appears(field, world, phone, client, as_user):
    """B2, with its field work, moves to G4 where nobody but the admin looks."""
    answer = field.submitted("officer1", "B2", kind="patrol", failed=["EXT-01"])
    hazard = field.report("officer1", "B2").get_json()
    _move(client, as_user, world, "B2", "G4")
    hidden = {str(world.buildings["B2"]), str(world.buildings["B4"])}
    hidden |= {answer["submission_id"], hazard["id"], hazard["submission_id"]}
    admin = phone("admin")
    admin.pull()
    assert hidden <= set().union(*(admin.ids(name) for name in ENTITIES))
    for who in ("gw1", "mgr1", "officer1", "office1", "police1"):
        copy = phone(who)
        text = json.dumps(copy.pull())
        assert not [i for i in hidden if i in text], who


def test_inspection_is_compact_and_complete(field, world, phone):
    answer = field.submitted("officer1", "B1", kind="patrol", failed=["EXT-01"])
    gw = phone("gw1")
    gw.pull()
    inspection = next(iter(gw.objects["inspections"].values()))
    results = {r["code"]: r for r in inspection["results"]}
    assert results["EXT-01"]["result"] == "fail"
    assert results["EXT-01"]["note"] == "EXT-01 found failing"
    # Passing items with photos are kept (evidence); bare passes are implied by the template.
    assert all(
        r["result"] != "pass" or r.get("photo_ids") or r.get("note") for r in results.values()
    )
    assert "unchecked" not in inspection
    assert inspection["stage"] == "grid_review"
    submission = gw.objects["submissions"][answer["submission_id"]]
    assert submission["subject"] == {"type": "inspection", "id": inspection["id"]}
    assert "history" not in submission  # read online: GET /api/v1/submissions/{id}
    last = submission["last_decision"]
    assert last["decision"] == "submit"
    assert last["stage"] == "grid_review"
    assert last["actor_id"] == str(world.users["officer1"])
    assert last["at"].endswith("Z")
    assert "reason" not in last
    assert "items" not in last
    hazard = next(iter(gw.objects["hazards"].values()))
    assert hazard["item_code"] == "EXT-01"
    assert hazard["inspection_id"] == inspection["id"]


def test_unchecked_items_are_named(field, world, phone):
    body = field.inspection_body("mgr1", "B1")
    body["items"] = body["items"][:3]
    assert field.create("mgr1", body).status_code == 201
    gw = phone("gw1")
    gw.pull()
    inspection = gw.objects["inspections"][body["id"]]
    assert inspection["stage"] is None
    assert inspection["status"] == "draft"
    template = gw.objects["templates"][inspection["template_id"]]
    expected = [i["code"] for i in template["items"]][3:]
    assert inspection["unchecked"] == expected


def test_residents_masked_for_grid_staff_whole_for_officers(world, phone):
    gw = phone("gw1")
    gw.pull()
    resident = gw.objects["buildings"][str(world.buildings["B1"])]["units"][0]["residents"][0]
    assert resident["phone"] == "138****5678"
    officer = phone("officer1")
    officer.pull()
    resident = officer.objects["buildings"][str(world.buildings["B1"])]["units"][0]["residents"][0]
    assert resident["phone"] == "13812345678"


def test_inbox_comes_on_the_last_page(field, phone):
    answer = field.submitted("mgr1", "B1")
    gw = phone("gw1")
    pages = gw.pull(limit=2)
    assert len(pages) > 1
    assert all("inbox" not in page for page in pages[:-1])
    inbox = pages[-1]["inbox"]
    assert any(
        i["kind"] == "review" and i["submission_id"] == answer["submission_id"] for i in inbox
    )


def test_database_built_documents_equal_the_python_shapes(field, world, phone, app, backend):
    """On PostgreSQL the big entities are built as JSON by the database; SQLite shapes them
    in Python. Both must give the same objects, field for field."""
    if backend != "server":
        pytest.skip("the documents are built by PostgreSQL only")
    failed = field.submitted("officer1", "B1", kind="patrol", failed=["EXT-01", "EVAC-01"])
    field.submitted("mgr1", "B1")
    returned = field.submitted("mgr1", "B1")["submission_id"]
    assert field.decide("gw1", returned, "return", reason="Photo unclear").status_code == 200
    short = field.inspection_body("mgr1", "B1")
    short["items"] = short["items"][2:5]
    assert field.create("mgr1", short).status_code == 201
    hazard = field.report("officer1", "B1").get_json()
    assert field.rectify("mgr1", hazard["id"]).status_code == 201
    assert failed["submission_id"]
    with app.extensions["fieldapi.sessionmaker"]() as db:
        unit = db.scalar(select(Unit).where(Unit.building_id == world.buildings["B1"]))
        for n, (id_number, phone_number) in enumerate(
            [("AB", "12-345"), ("", ""), (None, None), ("44030019900101123X", "+86 138-1234-5678")]
        ):
            db.add(Resident(unit_id=unit.id, name=f"R{n}", id_number=id_number, phone=phone_number,
                            kind="permanent", registered_on=date(2026, 1, n + 1)))  # fmt: skip
        # A photo used again in a building outside grid staff's scope, flagged there: its
        # flags are those of the uses the reader may see.
        shared = db.scalars(select(PhotoUse.photo_id).order_by(PhotoUse.attached_at)).first()
        elsewhere = PhotoUse(
            photo_id=shared,
            subject_type="hazard",
            subject_id=uuid.uuid4(),
            building_id=world.buildings["B2"],
            flags=["reused", "far_from_building"],
        )
        db.add(elsewhere)
        db.commit()
    compared = 0
    with app.extensions["fieldapi.sessionmaker"]() as db:
        for who, role in (("admin", "admin"), ("gw1", "grid_staff")):
            actor = Actor(user_id=world.users[who], username=who, role=role)
            for name, entity in ENTITY_SHAPES.items():
                if entity.document is None:
                    continue
                ids = list(db.scalars(select(entity.model.id)))
                assert ids, name
                in_db_ids, in_db = entity.by_ids(db, actor, ids)
                in_python_ids, in_python = replace(entity, document=None).by_ids(db, actor, ids)
                assert sorted(in_db_ids) == sorted(in_python_ids)
                built = {doc["id"]: doc for doc in orjson.loads(orjson.dumps(as_json_list(in_db)))}
                shaped = orjson.loads(orjson.dumps(in_python, option=JSON_OPTIONS))
                assert len(built) == len(shaped)
                for item in shaped:
                    assert built[item["id"]] == item, (who, name)
                    compared += 1
                if name == "photos":
                    seen = set(built[str(shared)]["flags"])
                    assert ("reused" in seen) is (who == "admin"), seen
    assert compared >= 20


def test_database_written_inbox_equals_the_inbox(field, world, app, backend):
    """On PostgreSQL sync's inbox is written as JSON by the database: item for item, in the
    same order, what GET /inbox's own code gives."""
    if backend != "server":
        pytest.skip("the inbox is written by PostgreSQL only")
    from fieldapi.fieldwork.models import Hazard
    from fieldapi.review import inbox as review_inbox
    from fieldapi.sync.inbox import INBOX_LIMIT, inbox_text

    field.submitted("mgr1", "B1")
    returned = field.submitted("mgr1", "B1")["submission_id"]
    assert field.decide("gw1", returned, "return", reason="Photo unclear").status_code == 200
    assert field.report("officer1", "B1").status_code == 201
    long_ago = datetime(2025, 1, 1, tzinfo=UTC)
    with app.extensions["fieldapi.sessionmaker"]() as db:
        db.execute(update(Hazard).values(due_at=long_ago))
        db.execute(update(Building).values(next_self_check_due_at=long_ago))
        db.commit()
        kinds = set()
        for who, role in (("gw1", "grid_staff"), ("mgr1", "building_manager"),
                          ("officer1", "officer")):  # fmt: skip
            actor = Actor(user_id=world.users[who], username=who, role=role)
            written = orjson.loads(inbox_text(db, actor, notice_days=3))
            items, _ = review_inbox.inbox(
                db=db, actor=actor, limit=INBOX_LIMIT, cursor=None, notice_days=3
            )
            assert written, who
            assert written == orjson.loads(orjson.dumps(items, option=JSON_OPTIONS)), who
            kinds |= {item["kind"] for item in written}
    assert kinds == {"review", "returned", "self_check_due", "hazard_due"}


def test_inbox_is_sent_again_only_when_it_changed(field, world, phone, client, as_user):
    first = field.submitted("mgr1", "B1")
    gw = phone("gw1")
    gw.pull()
    assert "inbox" in gw.pages[-1]
    path = f"/api/v1/buildings/{world.buildings['B1']}"
    etag = client.get(path, headers=as_user("admin")).headers["ETag"]
    edited = client.patch(
        path, json={"notes": "Gate code 1234"}, headers={**as_user("admin"), "If-Match": etag}
    )
    assert edited.status_code == 200, edited.get_json()
    pages = gw.pull()
    assert str(world.buildings["B1"]) in upserted(pages, "buildings")
    assert all("inbox" not in page for page in pages)  # the same inbox: not sent again
    second = field.submitted("mgr1", "B1")
    pages = gw.pull()
    inbox = pages[-1]["inbox"]
    assert {first["submission_id"], second["submission_id"]} <= {i["submission_id"] for i in inbox}
    # A copy started again from nothing brings the inbox again.
    again = phone("gw1")
    again.pull()
    assert again.pages[-1]["inbox"] == inbox


# --- deltas ------------------------------------------------------------------------------


def test_empty_delta_changes_nothing_and_keeps_the_cursor_working(field, phone):
    field.submitted("mgr1", "B1")
    gw = phone("gw1")
    gw.pull()
    pages = gw.pull()
    assert len(pages) == 1
    page = pages[0]
    assert all(not d["upserted"] and not d["deleted"] for d in page["changes"].values())
    assert page["has_more"] is False
    assert "inbox" not in page


def test_delta_brings_new_and_changed_objects(field, phone):
    gw = phone("gw1")
    gw.pull()
    answer = field.submitted("mgr1", "B1")
    pages = gw.pull()
    assert answer["submission_id"] in upserted(pages, "submissions")
    assert len(upserted(pages, "inspections")) == 1
    assert not upserted(pages, "buildings") - {next(iter(gw.ids("buildings")))}
    decided = field.decide("gw1", answer["submission_id"], "approve")
    assert decided.status_code == 200
    pages = gw.pull()
    submission = gw.objects["submissions"][answer["submission_id"]]
    assert submission["stage"] == decided.get_json()["stage"]
    assert submission["last_decision"]["decision"] == "approve"
    assert submission["last_decision"]["stage"] == submission["stage"]
    inspection = gw.objects["inspections"][submission["subject"]["id"]]
    assert inspection["stage"] == submission["stage"]


def test_delta_of_another_grid_tells_nothing(field, phone):
    gw = phone("gw1")
    gw.pull()
    field.report("officer1", "B2")
    pages = gw.pull()
    assert all(not d["upserted"] and not d["deleted"] for d in pages[0]["changes"].values())


def test_derived_building_columns_reach_the_phone(field, world, phone, app):
    """Risk and schedule are set by an UPDATE statement, not through objects."""
    gw = phone("gw1")
    gw.pull()
    field.submitted("officer1", "B1", kind="patrol", failed=["EXT-01"])
    gw.pull()
    building = gw.objects["buildings"][str(world.buildings["B1"])]
    with app.extensions["fieldapi.sessionmaker"]() as db:
        stored = db.get(Building, world.buildings["B1"])
        assert building["risk_level"] == stored.risk_level
        assert building["version"] == stored.version


def test_deleted_objects_come_back_as_deleted(field, world, phone, app):
    body = field.inspection_body("mgr1", "B1")
    assert field.create("mgr1", body).status_code == 201
    gw = phone("gw1")
    gw.pull()
    assert body["id"] in gw.ids("inspections")
    from fieldapi.fieldwork.models import Inspection

    with app.extensions["fieldapi.sessionmaker"]() as db:
        db.delete(db.get(Inspection, uuid.UUID(body["id"])))
        db.commit()
    pages = gw.pull()
    assert deleted(pages, "inspections") == {body["id"]}
    assert body["id"] not in gw.ids("inspections")


# --- scope moves -------------------------------------------------------------------------


def test_building_moved_away_leaves_with_everything_under_it(field, world, phone, client, as_user):
    answer = field.submitted("officer1", "B1", kind="patrol", failed=["EXT-01"])
    gw = phone("gw1")
    gw.pull()
    b1 = str(world.buildings["B1"])
    assert gw.ids("inspections")
    assert gw.ids("hazards")
    office = phone("office1")  # covers G1-G3: B1 stays in scope
    office.pull()
    _move(client, as_user, world, "B1", "G3")
    pages = gw.pull()
    assert b1 in deleted(pages, "buildings")
    assert gw.ids("buildings") == set()
    assert gw.ids("inspections") == set()
    assert gw.ids("hazards") == set()
    assert gw.ids("submissions") == set()
    office_pages = office.pull()
    assert b1 in upserted(office_pages, "buildings")
    assert not deleted(office_pages, "buildings")
    assert office.objects["buildings"][b1]["grid_id"] == str(world.areas["G3"])
    assert answer["submission_id"] in office.ids("submissions")


def test_building_moved_in_enters_with_everything_under_it(field, world, phone, client, as_user):
    answer = field.submitted("officer1", "B2", kind="patrol", failed=["EXT-01"])
    gw = phone("gw1")
    gw.pull()
    assert answer["submission_id"] not in gw.ids("submissions")
    _move(client, as_user, world, "B2", "G1")
    pages = gw.pull()
    b2 = str(world.buildings["B2"])
    assert b2 in upserted(pages, "buildings")
    assert answer["submission_id"] in gw.ids("submissions")
    assert {i["building_id"] for i in gw.objects["inspections"].values()} == {b2}
    assert gw.ids("hazards")


def test_reassigned_grid_staff_swap_their_whole_copy(field, world, phone, app):
    on_b1 = field.submitted("mgr1", "B1")
    on_b3 = field.submitted("office1", "B3", kind="verification")
    gw = phone("gw1")
    gw.pull()
    assert on_b1["submission_id"] in gw.ids("submissions")
    with app.extensions["fieldapi.sessionmaker"]() as db:
        link = db.get(UserArea, (world.users["gw1"], world.areas["G1"]))
        db.delete(link)
        db.add(UserArea(user_id=world.users["gw1"], area_id=world.areas["G3"]))
        db.commit()
    pages = gw.pull(limit=3)
    assert len(pages) > 1
    assert str(world.buildings["B1"]) in deleted(pages, "buildings")
    assert on_b1["submission_id"] in deleted(pages, "submissions")
    assert gw.ids("buildings") == {str(world.buildings["B3"])}
    assert gw.ids("submissions") == {on_b3["submission_id"]}
    assert all(
        i["building_id"] == str(world.buildings["B3"]) for i in gw.objects["inspections"].values()
    )
    # And after the move, ordinary deltas go on.
    again = field.submitted("office1", "B3", kind="verification")
    pages = gw.pull()
    assert again["submission_id"] in upserted(pages, "submissions")


def test_manager_given_another_building(world, phone, client, as_user, app):
    extra = _add_building(app, world, "FT-B9", "G2")
    mgr = phone("mgr1")
    mgr.pull()
    assert mgr.ids("buildings") == {str(world.buildings["B1"])}
    user = client.get(f"/api/v1/users/{world.users['mgr1']}", headers=as_user("admin"))
    response = client.patch(
        f"/api/v1/users/{world.users['mgr1']}",
        json={"building_ids": [extra]},
        headers={**as_user("admin"), "If-Match": user.headers["ETag"]},
    )
    assert response.status_code == 200, response.get_json()
    pages = mgr.pull()
    assert extra in upserted(pages, "buildings")
    assert str(world.buildings["B1"]) in deleted(pages, "buildings")
    assert mgr.ids("buildings") == {extra}


# --- paging ------------------------------------------------------------------------------


def test_small_pages_give_the_same_copy_as_one_page(field, world, phone):
    for _ in range(3):
        field.submitted("officer1", "B1", kind="patrol", failed=["EXT-01"])
    field.submitted("officer1", "B2", kind="patrol")
    whole = phone("officer1")
    whole.pull(limit=5000)
    paged = phone("officer1")
    pages = paged.pull(limit=2)
    assert len(pages) > 5
    assert all(p["has_more"] for p in pages[:-1])
    assert not pages[-1]["has_more"]
    for page in pages:
        count = sum(len(d["upserted"]) + len(d["deleted"]) for d in page["changes"].values())
        assert count <= 2
    assert paged.objects == whole.objects


def test_delta_pages_with_has_more(field, phone):
    gw = phone("gw1")
    gw.pull()
    made = {field.submitted("mgr1", "B1")["submission_id"] for _ in range(4)}
    pages = gw.pull(limit=2)
    assert len(pages) > 1
    assert pages[0]["has_more"]
    assert made <= gw.ids("submissions")


def test_limit_is_bounded(phone):
    gw = phone("gw1")
    assert gw.get(limit=0).status_code == 422
    assert gw.get(limit=5001).status_code == 422
    assert gw.get(limit=5000).status_code == 200


# --- cursors -----------------------------------------------------------------------------


def _problem(response, slug):
    assert response.status_code == 400, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("/" + slug)


def test_tampered_and_garbage_cursors_are_refused(phone):
    gw = phone("gw1")
    gw.pull()
    good = gw.cursor
    for bad in ("nonsense", good[:-2] + ("AA" if not good.endswith("AA") else "BB"), "e30.x"):
        _problem(gw.get(bad), "invalid-cursor")


def test_forged_cursor_with_a_bigger_number_is_refused(phone, world):
    """A cursor made up by the client, right in shape, signed with another key."""
    gw = phone("gw1")
    gw.pull()
    payload = URLSafeSerializer(TEST_SECRET, salt="fieldapi.sync.cursor").loads(gw.cursor)
    assert payload["u"] == world.users["gw1"].hex
    forged = URLSafeSerializer("another key", salt="fieldapi.sync.cursor").dumps(
        {**payload, "s": 10**9}
    )
    _problem(gw.get(forged), "invalid-cursor")


def test_cursor_of_another_user_is_refused(phone):
    gw = phone("gw1")
    gw.pull()
    officer = phone("officer1")
    _problem(officer.get(gw.cursor), "invalid-cursor")


def test_sync_needs_a_session(client):
    response = client.get("/api/v1/sync")
    assert response.status_code == 401


# --- transport ---------------------------------------------------------------------------


def test_gzip_when_accepted(field, client, as_user):
    field.submitted("mgr1", "B1")
    plain = client.get("/api/v1/sync", headers=as_user("gw1"))
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    packed = client.get("/api/v1/sync", headers={**as_user("gw1"), "Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    body = json.loads(gzip.decompress(packed.data))
    assert len(packed.data) < len(plain.data)
    assert body["changes"]["buildings"] == plain.get_json()["changes"]["buildings"]


def test_changes_are_numbered_in_commit_order_without_gaps_or_repeats(field, app):
    field.submitted("mgr1", "B1")
    with app.extensions["fieldapi.sessionmaker"]() as db:
        seqs = list(db.scalars(select(SyncChange.seq).order_by(SyncChange.seq)))
    assert seqs == list(range(1, len(seqs) + 1))


def test_rolled_back_writes_leave_no_change(app, world):
    with app.extensions["fieldapi.sessionmaker"]() as db:
        before = db.scalar(select(SyncChange.seq).order_by(SyncChange.seq.desc()).limit(1))
        db.execute(update(Building).values(notes="draft"))
        db.rollback()
        after = db.scalar(select(SyncChange.seq).order_by(SyncChange.seq.desc()).limit(1))
    assert before == after


def test_a_savepoint_rolled_back_keeps_what_the_transaction_changed_before(
    app, world, phone, backend
):
    """A photo's arrival tries each waiting record in a savepoint, and a create under a client
    id tries its insert in one: undoing the savepoint undoes its own work, not the telling of
    what the transaction changed before it."""
    gw = phone("gw1")
    gw.pull()
    b1 = str(world.buildings["B1"])
    with app.extensions["fieldapi.sessionmaker"]() as db:
        db.get(Building, world.buildings["B1"]).notes = "Kept: changed before the savepoint"
        db.flush()
        savepoint = db.begin_nested()
        db.get(Building, world.buildings["B2"]).notes = "Undone with the savepoint"
        db.flush()
        savepoint.rollback()
        db.commit()
    gw.pull()
    assert gw.objects["buildings"][b1]["notes"] == "Kept: changed before the savepoint"
    with app.extensions["fieldapi.sessionmaker"]() as db:
        assert db.get(Building, world.buildings["B2"]).notes != "Undone with the savepoint"
        if backend == "server":
            assert documents.stale(db) == []


# --- concurrency (PostgreSQL) ------------------------------------------------------------


def test_writes_committed_while_pages_are_read_are_never_skipped(
    app, world, backend, client, as_user
):
    """Writer threads commit new buildings while a phone pulls small pages; each writer
    holds its change numbers a moment before committing, so pages are read while numbered
    changes are still uncommitted. Every committed building reaches the phone."""
    if backend != "server":
        pytest.skip("SQLite serializes writers itself; the race needs PostgreSQL")
    gw = Phone(client, as_user("gw1"))
    gw.pull()
    created: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                with app.extensions["fieldapi.sessionmaker"]() as db:
                    building = Building(
                        code=f"FT-W{n}-{i}",
                        name=f"Writer {n} #{i}",
                        address="Shuiwei Road",
                        grid_id=world.areas["G1"],
                        lat=22.5,
                        lon=114.0,
                        use_type="residential",
                    )
                    db.add(building)
                    db.flush()
                    capture._before_commit(db)  # number the change now, under the lock
                    time.sleep(0.01)  # ...and hold it uncommitted while pages are read
                    db.commit()
                    with lock:
                        created.append(str(building.id))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    pages_while_writing = 0
    while any(t.is_alive() for t in threads):
        pages_while_writing += len(gw.pull(limit=2))
    for thread in threads:
        thread.join()
    assert not errors, errors
    gw.pull(limit=2)
    assert len(created) == 60
    assert set(created) <= gw.ids("buildings")
    assert pages_while_writing > 3
