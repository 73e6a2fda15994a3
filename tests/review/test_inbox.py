"""The inbox: what waits for each persona, in their scope, soonest due first."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from fieldapi.buildings.models import Building
from fieldapi.fieldwork.models import Hazard
from fieldapi.review.models import Submission
from tests.fieldwork.conftest import assert_problem


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


# ---------------------------------------------------------------- order and pages


def arrange_a_full_inbox(field, db, world) -> None:
    """gw1: reviews, a returned report of its own, an overdue self-check, overdue hazards."""
    field.submitted("mgr1")
    first = hazard_submission(field, "B1")
    second = hazard_submission(field, "B1", severity="minor")
    own = field.report("gw1", "B1", "major").get_json()["submission_id"]
    peer = grid_worker(field.client, field.as_user, world, "gw1peer", ["G1"])
    assert field.decide(peer, own, "return", reason="Reported twice").status_code == 200
    set_self_check_due(db, world, "B1", now() - timedelta(days=2))
    set_hazard_due(db, first["id"], now() - timedelta(days=1))
    set_hazard_due(db, second["id"], now() - timedelta(hours=3))


def when(item) -> datetime:
    return parse(item["due_at"] or item["since"])


def test_items_are_ordered_soonest_due_first(field, db, world):
    arrange_a_full_inbox(field, db, world)
    items = field.inbox("gw1")
    assert {i["kind"] for i in items} == {"review", "returned", "self_check_due", "hazard_due"}
    times = [when(i) for i in items]
    assert times == sorted(times)
    assert items[0]["kind"] == "self_check_due"


def test_every_overdue_flag_matches_its_due_time(field, db, world):
    arrange_a_full_inbox(field, db, world)
    seen = set()
    for who in ("gw1", "mgr1", "officer1", "office1"):
        for item in field.inbox(who):
            due = item["due_at"]
            expected = due is not None and parse(due) < now()
            assert item["overdue"] is expected, item
            seen.add(item["overdue"])
    assert seen == {True, False}


def test_pages_of_one_walk_every_item_once(field, client, as_user, db, world):
    arrange_a_full_inbox(field, db, world)
    everything = inbox_page(client, as_user, "gw1")
    assert everything["next_cursor"] is None
    walked, cursor = [], None
    for _ in range(50):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = inbox_page(client, as_user, "gw1", **params)
        assert len(page["items"]) <= 1
        walked.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    else:
        raise AssertionError("the pages never ended")
    keys = [(i["kind"], i["id"]) for i in walked]
    assert len(keys) == len(set(keys))
    assert walked == everything["items"]
    assert len(walked) >= 6


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        base64.urlsafe_b64encode(b"[1, 2, 3]").decode().rstrip("="),
        base64.urlsafe_b64encode(json.dumps(["x"]).encode()).decode().rstrip("="),
        base64.urlsafe_b64encode(json.dumps(["yesterday", "review", "x"]).encode()).decode(),
        base64.urlsafe_b64encode(
            json.dumps([now().isoformat(), "review", "not-a-uuid"]).encode()
        ).decode(),
    ],
)
def test_an_invalid_cursor_is_400(field, client, as_user, cursor):
    response = client.get("/api/v1/inbox", query_string={"cursor": cursor}, headers=as_user("gw1"))
    assert_problem(response, 400, "invalid-cursor")


def test_limit_is_bounded(field, client, as_user):
    for limit in (0, 201, "many"):
        response = client.get(
            "/api/v1/inbox", query_string={"limit": limit}, headers=as_user("gw1")
        )
        assert_problem(response, 422, "validation-failed", "/limit")
