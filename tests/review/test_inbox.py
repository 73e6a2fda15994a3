"""The inbox: what waits for each persona, in their scope, soonest due first."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from fieldapi.buildings.models import Building
from fieldapi.checklists.defaults import DEFAULT_ITEMS
from fieldapi.fieldwork.models import Hazard
from fieldapi.review.models import Submission


def inbox_page(client, as_user, who, **params):
    response = client.get("/api/v1/inbox", query_string=params, headers=as_user(who))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def kinds_of(items, kind) -> list[dict]:
    return [item for item in items if item["kind"] == kind]


def review_ids(items) -> set[str]:
    return {item["submission_id"] for item in kinds_of(items, "review")}


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def hazard_submission(field, building="B1", severity="major") -> dict:
    response = field.report("officer1", building, severity)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def grid_worker(client, as_user, world, username, grids):
    """Another grid worker, for the grids nobody else in the world reviews."""
    response = client.post(
        "/api/v1/users",
        json={
            "username": username,
            "password": world.password,
            "role": "grid_staff",
            "area_ids": [str(world.areas[g]) for g in grids],
        },
        headers=as_user("admin"),
    )
    assert response.status_code == 201, response.get_json()
    return username


def set_self_check_due(db, world, building, due: datetime) -> None:
    db.execute(
        update(Building)
        .where(Building.id == world.buildings[building])
        .values(next_self_check_due_at=due)
    )
    db.commit()


def set_hazard_due(db, hazard_id, due: datetime) -> None:
    db.execute(update(Hazard).where(Hazard.id == uuid.UUID(str(hazard_id))).values(due_at=due))
    db.commit()


def now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- reviews


def test_grid_staff_see_reviews_at_grid_review_in_their_grids(field, client, as_user):
    b1 = field.submitted("mgr1")["submission_id"]
    b2 = hazard_submission(field, "B2")["submission_id"]
    items = field.inbox("gw1")
    assert review_ids(items) == {b1}
    item = kinds_of(items, "review")[0]
    assert item["stage"] == "grid_review"
    assert item["id"] == b1
    assert item["building_id"] == str(field.world.buildings["B1"])
    assert item["hazard_id"] is None
    assert item["due_at"] is not None
    assert item["since"] is not None
    assert item["overdue"] is False
    assert b2 not in {i["submission_id"] for i in items}
    # Once decided it leaves the inbox.
    assert field.decide("gw1", b1, "approve").status_code == 200
    assert review_ids(field.inbox("gw1")) == set()


def test_a_review_past_its_stage_time_is_overdue(field, client, as_user, db):
    late = field.submitted("mgr1")["submission_id"]
    fresh = hazard_submission(field, "B1")["submission_id"]
    db.execute(
        update(Submission)
        .where(Submission.id == uuid.UUID(late))
        .values(stage_due_at=now() - timedelta(hours=1))
    )
    db.commit()
    items = {i["submission_id"]: i for i in kinds_of(field.inbox("gw1"), "review")}
    assert items[late]["overdue"] is True
    assert items[fresh]["overdue"] is False
    assert list(items) == [late, fresh]  # the late one first
    assert field.submission("gw1", late).get_json()["overdue"] is True


def test_fire_office_sees_office_review_across_its_street(field, client, as_user, world):
    gw2 = grid_worker(client, as_user, world, "gw2", ["G2", "G3"])
    b1 = hazard_submission(field, "B1")["submission_id"]
    b2 = hazard_submission(field, "B2")["submission_id"]
    waiting = hazard_submission(field, "B2")["submission_id"]  # stays at grid_review
    assert field.decide("gw1", b1, "approve").get_json()["stage"] == "office_review"
    assert field.decide(gw2, b2, "approve").get_json()["stage"] == "office_review"
    items = field.inbox("office1")
    assert review_ids(items) == {b1, b2}
    assert {i["stage"] for i in kinds_of(items, "review")} == {"office_review"}
    assert waiting not in {i["submission_id"] for i in items}
    assert review_ids(field.inbox("police1")) == set()
    assert review_ids(field.inbox(gw2)) == {waiting}


def test_fire_police_see_police_review(field, client, as_user):
    sid = hazard_submission(field, "B1")["submission_id"]
    field.decide("gw1", sid, "approve")
    assert review_ids(field.inbox("police1")) == set()
    field.decide("office1", sid, "approve")
    items = field.inbox("police1")
    assert review_ids(items) == {sid}
    assert kinds_of(items, "review")[0]["stage"] == "police_review"
    assert review_ids(field.inbox("office1")) == set()
    field.decide("police1", sid, "approve")
    assert review_ids(field.inbox("police1")) == set()


def test_the_submitter_sees_returned_work(field, client, as_user):
    sid = field.submitted("mgr1")["submission_id"]
    assert field.decide("gw1", sid, "return", reason="The photo is blurred").status_code == 200
    items = field.inbox("mgr1")
    returned = kinds_of(items, "returned")
    assert [i["submission_id"] for i in returned] == [sid]
    assert returned[0]["stage"] == "returned"
    assert returned[0]["building_id"] == str(field.world.buildings["B1"])
    assert returned[0]["since"] is not None
    assert returned[0]["overdue"] is False
    # Nobody else has it: not the reviewer, not another reviewer in scope.
    for who in ("gw1", "office1", "police1", "officer1"):
        assert sid not in {i["submission_id"] for i in field.inbox(who)}
    assert field.resubmit("mgr1", sid).status_code == 200
    assert kinds_of(field.inbox("mgr1"), "returned") == []
    assert review_ids(field.inbox("gw1")) == {sid}


def test_returned_hazard_reports_go_back_to_their_reporter(field):
    sid = hazard_submission(field, "B1")["submission_id"]
    field.decide("gw1", sid, "return", reason="Which stairwell?")
    assert [i["submission_id"] for i in kinds_of(field.inbox("officer1"), "returned")] == [sid]
    assert kinds_of(field.inbox("mgr1"), "returned") == []


# ---------------------------------------------------------------- self-checks due


@pytest.mark.parametrize(
    ("days", "manager", "grid_staff"),
    [(10, False, False), (4, False, False), (2, True, False), (-1, True, True)],
)
def test_self_check_due(field, db, world, days, manager, grid_staff):
    due = now() + timedelta(days=days)
    set_self_check_due(db, world, "B1", due)
    set_self_check_due(db, world, "B2", now() - timedelta(days=1))  # in nobody's view here

    def due_items(who):
        return [i for i in field.inbox(who) if i["kind"] == "self_check_due"]

    mine = due_items("mgr1")
    assert bool(mine) is manager
    if manager:
        (item,) = mine
        assert item["id"] == str(world.buildings["B1"])
        assert item["building_id"] == str(world.buildings["B1"])
        assert item["submission_id"] is None
        assert item["hazard_id"] is None
        assert abs(parse(item["due_at"]) - due) < timedelta(seconds=1)
        assert item["overdue"] is (days < 0)
    theirs = due_items("gw1")
    assert [i["building_id"] for i in theirs] == (
        [str(world.buildings["B1"])] if grid_staff else []
    )
    if grid_staff:
        assert theirs[0]["overdue"] is True
    # Self-checks are not the business of the other roles.
    for who in ("officer1", "office1", "police1"):
        assert due_items(who) == []


def test_self_check_due_set_through_the_building_file(field, client, as_user, world):
    url = f"/api/v1/buildings/{world.buildings['B1']}"
    etag = client.get(url, headers=as_user("mgr1")).headers["ETag"]
    due = (now() + timedelta(days=1)).isoformat()
    response = client.patch(
        url, json={"next_self_check_due_at": due}, headers={**as_user("mgr1"), "If-Match": etag}
    )
    assert response.status_code == 200, response.get_json()
    items = kinds_of(field.inbox("mgr1"), "self_check_due")
    assert [i["building_id"] for i in items] == [str(world.buildings["B1"])]
    assert items[0]["overdue"] is False


def test_a_closed_self_check_clears_the_reminder(field, db, world):
    set_self_check_due(db, world, "B1", now() + timedelta(days=1))
    assert kinds_of(field.inbox("mgr1"), "self_check_due")
    sid = field.submitted("mgr1")["submission_id"]
    field.approve_all(sid)
    assert kinds_of(field.inbox("mgr1"), "self_check_due") == []


# ---------------------------------------------------------------- hazards due


def test_the_manager_sees_open_hazards_until_a_rectification_is_in_review(field, world):
    answer = field.submitted("mgr1", failed=("EXT-01",))
    (from_check,) = answer["hazard_ids"]
    reported = hazard_submission(field, "B1")["id"]
    elsewhere = hazard_submission(field, "B2")["id"]
    items = kinds_of(field.inbox("mgr1"), "hazard_due")
    assert {i["hazard_id"] for i in items} == {from_check, reported}
    assert elsewhere not in {i["hazard_id"] for i in items}
    for item in items:
        assert item["id"] == item["hazard_id"]
        assert item["building_id"] == str(world.buildings["B1"])
        assert item["due_at"] is not None
        assert item["overdue"] is False
    rect = field.rectify("mgr1", from_check)
    assert rect.status_code == 201, rect.get_json()
    assert field.hazard("mgr1", from_check)["status"] == "rectifying"
    items = kinds_of(field.inbox("mgr1"), "hazard_due")
    assert {i["hazard_id"] for i in items} == {reported}
    # Returned: the hazard is open again and waits for the manager once more.
    sid = rect.get_json()["submission_id"]
    assert field.decide("gw1", sid, "return", reason="Still no extinguisher").status_code == 200
    items = kinds_of(field.inbox("mgr1"), "hazard_due")
    assert {i["hazard_id"] for i in items} == {from_check, reported}


def test_reviewers_see_only_overdue_hazards(field, db, world):
    b1 = hazard_submission(field, "B1")["id"]
    b2 = hazard_submission(field, "B2")["id"]

    def hazards(who):
        return {i["hazard_id"] for i in kinds_of(field.inbox(who), "hazard_due")}

    assert hazards("gw1") == set()
    assert hazards("officer1") == set()
    set_hazard_due(db, b1, now() - timedelta(hours=1))
    set_hazard_due(db, b2, now() - timedelta(hours=2))
    assert hazards("gw1") == {b1}
    assert hazards("officer1") == {b1, b2}
    assert hazards("mgr1") == {b1}
    for item in kinds_of(field.inbox("officer1"), "hazard_due"):
        assert item["overdue"] is True
    # Fire office and police review, they do not chase hazards.
    assert hazards("office1") == set()
    assert hazards("police1") == set()


# ---------------------------------------------------------------- what a row shows

LABEL_ZH = {item["code"]: item["label"]["zh"] for item in DEFAULT_ITEMS}


def building_of(db, world, name) -> dict:
    b = db.get(Building, world.buildings[name])
    return {"id": str(b.id), "code": b.code, "name": b.name, "address": b.address}


def test_each_item_names_its_building(field, db, world):
    b1 = hazard_submission(field, "B1")["id"]
    b2 = hazard_submission(field, "B2")["id"]
    set_hazard_due(db, b1, now() - timedelta(hours=1))
    set_hazard_due(db, b2, now() - timedelta(hours=2))
    set_self_check_due(db, world, "B1", now() - timedelta(days=1))
    shown = {i["id"]: i["building"] for i in field.inbox("officer1")}
    assert shown[b1] == building_of(db, world, "B1") | {"code": "FT-B1"}
    assert shown[b2] == building_of(db, world, "B2") | {"code": "FT-B2"}
    for item in field.inbox("gw1"):  # reviews, the self-check, the hazard: all of B1
        assert item["building"] == building_of(db, world, "B1"), item["kind"]
        assert item["building"]["id"] == item["building_id"]


def test_hours_waiting_count_from_when_the_stage_began(field, db):
    sid = field.submitted("mgr1")["submission_id"]
    entered = now() - timedelta(hours=30, minutes=12)
    db.execute(
        update(Submission).where(Submission.id == uuid.UUID(sid)).values(stage_entered_at=entered)
    )
    db.commit()
    (item,) = kinds_of(field.inbox("gw1"), "review")
    assert item["hours_waiting"] == pytest.approx(30.2, abs=0.051)
    assert abs(parse(item["since"]) - entered) < timedelta(seconds=1)
    assert field.decide("gw1", sid, "return", reason="Photo unclear").status_code == 200
    (returned,) = kinds_of(field.inbox("mgr1"), "returned")
    assert returned["hours_waiting"] == pytest.approx(0.0, abs=0.051)  # returned just now
    for item in kinds_of(field.inbox("mgr1"), "hazard_due"):
        assert item["hours_waiting"] is None


def test_a_failed_item_is_titled_by_its_checklist_label(field):
    answer = field.submitted("mgr1", failed=("EXT-01", "EVAC-01"))
    hazards = {i["hazard_id"]: i for i in kinds_of(field.inbox("mgr1"), "hazard_due")}
    shown = {(i["severity"], i["title"]) for i in hazards.values()}
    assert shown == {("major", LABEL_ZH["EXT-01"]), ("critical", LABEL_ZH["EVAC-01"])}
    for hazard_id, item in hazards.items():
        assert item["subject"] == {"type": "hazard", "id": hazard_id}
        assert "found failing" not in item["title"]  # the inspector's note stays out
    (review,) = kinds_of(field.inbox("gw1"), "review")
    assert review["subject"] == {"type": "inspection", "id": answer["id"]}
    assert review["severity"] is None
    assert review["title"] is None


def test_a_reported_hazard_is_titled_by_its_description_without_numbers(field):
    description = (
        "楼道电动车充电，住户电话 138 0013 8000，身份证 44030419900101123X，"
        "插线板放在纸箱上，旁边堆满杂物和旧家具，夜间无人看管\n第二行不显示"
    )
    answer = field.report("officer1", "B1", "critical", description=description).get_json()
    (item,) = kinds_of(field.inbox("mgr1"), "hazard_due")
    assert item["hazard_id"] == answer["id"]
    assert item["severity"] == "critical"
    title = item["title"]
    assert len(title) == 40
    assert title.endswith("…")
    assert title.startswith("楼道电动车充电，住户电话 ****")
    assert "身份证 ****" in title
    assert not re.search(r"\d", title)
    # Its review shows the same hazard to the grid worker.
    (review,) = kinds_of(field.inbox("gw1"), "review")
    assert review["subject"] == {"type": "hazard", "id": answer["id"]}
    assert (review["severity"], review["title"]) == ("critical", title)
    assert review["hazard_id"] is None  # hazard_id names a hazard due, not one in review


def test_a_rectification_in_review_shows_its_hazard(field):
    (hazard_id,) = field.submitted("mgr1", failed=("LIGHT-01",))["hazard_ids"]
    rect = field.rectify("mgr1", hazard_id).get_json()
    reviews = {i["subject"]["type"]: i for i in kinds_of(field.inbox("gw1"), "review")}
    item = reviews["rectification"]
    assert item["subject"]["id"] == rect["id"]
    assert item["submission_id"] == rect["submission_id"]
    assert (item["severity"], item["title"]) == ("minor", LABEL_ZH["LIGHT-01"])
    assert item["stage"] == "grid_review"
    assert item["hours_waiting"] == 0.0
