"""A building's timeline: inspections, hazards, rectifications and decisions, newest first."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime

import pytest
from sqlalchemy import select

from fieldapi.review.models import SubmissionEvent
from tests.fieldwork.conftest import assert_problem


def url(world, building="B1") -> str:
    return f"/api/v1/buildings/{world.buildings[building]}/timeline"


def page(client, as_user, world, who="gw1", building="B1", **params) -> dict:
    response = client.get(url(world, building), query_string=params, headers=as_user(who))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def history(field, client, as_user, world, db):
    """B1: a self-check with a failed item, reviewed to closed; its hazard rectified and in
    review; a draft left unsubmitted. B2: a reported hazard, which B1 does not show."""
    answer = field.submitted("mgr1", failed=("EXT-01",))
    field.approve_all(answer["submission_id"])
    (hazard_id,) = answer["hazard_ids"]
    rect = field.rectify("mgr1", hazard_id)
    assert rect.status_code == 201, rect.get_json()
    draft = field.inspection_body("mgr1")
    assert field.create("mgr1", draft).status_code == 201
    elsewhere = field.report("officer1", "B2", "major")
    assert elsewhere.status_code == 201, elsewhere.get_json()
    submissions = [answer["submission_id"], rect.get_json()["submission_id"]]
    events = db.scalars(
        select(SubmissionEvent).where(
            SubmissionEvent.submission_id.in_([uuid.UUID(s) for s in submissions])
        )
    ).all()
    return {
        "inspection": answer["id"],
        "hazard": hazard_id,
        "rectification": rect.get_json()["id"],
        "draft": draft["id"],
        "elsewhere": [elsewhere.get_json()["id"], elsewhere.get_json()["submission_id"]],
        "decisions": {str(e.id): e for e in events},
    }


def test_every_kind_newest_first(field, client, as_user, world, history):
    body = page(client, as_user, world)
    assert body["next_cursor"] is None
    items = body["items"]
    assert Counter(i["kind"] for i in items) == {
        "inspection": 1,
        "hazard": 1,
        "rectification": 1,
        "decision": 5,  # submit + three approvals; the rectification's submit
    }
    times = [parse(i["at"]) for i in items]
    assert times == sorted(times, reverse=True)
    ids = {i["kind"]: set() for i in items}
    for item in items:
        ids[item["kind"]].add(item["id"])
        assert item["actor_id"], item
        assert isinstance(item["summary"], dict), item
        assert item["summary"], item
    assert ids["inspection"] == {history["inspection"]}
    assert ids["hazard"] == {history["hazard"]}
    assert ids["rectification"] == {history["rectification"]}
    assert ids["decision"] == set(history["decisions"])


def test_entries_say_who_and_what(field, client, as_user, world, history):
    items = page(client, as_user, world)["items"]
    users = {str(uid): name for name, uid in world.users.items()}
    by_kind = {}
    for item in items:
        by_kind.setdefault(item["kind"], []).append(item)

    (inspection,) = by_kind["inspection"]
    assert users[inspection["actor_id"]] == "mgr1"
    assert inspection["summary"]["inspection_kind"] == "self_check"
    assert inspection["summary"]["status"] == "submitted"
    assert inspection["summary"]["failed"] == ["EXT-01"]

    (hazard,) = by_kind["hazard"]
    assert users[hazard["actor_id"]] == "mgr1"
    assert hazard["summary"]["severity"] == "major"
    assert hazard["summary"]["status"] == "rectifying"

    (rectification,) = by_kind["rectification"]
    assert users[rectification["actor_id"]] == "mgr1"
    assert rectification["summary"]["hazard_id"] == history["hazard"]

    decisions = by_kind["decision"]
    for item in decisions:
        event = history["decisions"][item["id"]]
        assert item["actor_id"] == str(event.actor_id)
        assert item["summary"]["decision"] == event.decision
        assert item["summary"]["to_stage"] == event.to_stage
        assert item["summary"]["submission_id"] == str(event.submission_id)
    assert Counter(users[i["actor_id"]] for i in decisions) == {
        "mgr1": 2,
        "gw1": 1,
        "office1": 1,
        "police1": 1,
    }
    assert Counter(i["summary"]["decision"] for i in decisions) == {"submit": 2, "approve": 3}


def test_drafts_and_other_buildings_are_not_listed(field, client, as_user, world, history):
    ids = {i["id"] for i in page(client, as_user, world, who="admin")["items"]}
    assert history["draft"] not in ids
    assert not ids & set(history["elsewhere"])
    other = page(client, as_user, world, who="admin", building="B2")["items"]
    assert {i["kind"] for i in other} == {"hazard", "decision"}
    assert history["elsewhere"][0] in {i["id"] for i in other}


def test_pages_of_two_walk_everything_once(field, client, as_user, world, history):
    everything = page(client, as_user, world)["items"]
    walked, cursor = [], None
    for _ in range(20):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = page(client, as_user, world, **params)
        assert len(body["items"]) <= 2
        walked.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    else:
        raise AssertionError("the pages never ended")
    assert [(i["kind"], i["id"]) for i in walked] == [(i["kind"], i["id"]) for i in everything]
    assert len({(i["kind"], i["id"]) for i in walked}) == len(walked) == 8


def test_out_of_scope_building_is_404(field, client, as_user, world, history):
    for who, building in (("gw1", "B2"), ("mgr1", "B2"), ("office1", "B4"), ("officer1", "B3")):
        response = client.get(url(world, building), headers=as_user(who))
        assert_problem(response, 404, "not-found")


def test_the_manager_reads_the_timeline_of_their_building(field, client, as_user, world, history):
    mine = page(client, as_user, world, who="mgr1")["items"]
    theirs = page(client, as_user, world, who="gw1")["items"]
    assert mine == theirs
    assert len(mine) == 8


def test_an_invalid_cursor_is_400(field, client, as_user, world):
    response = client.get(url(world), query_string={"cursor": "nope"}, headers=as_user("gw1"))
    assert_problem(response, 400, "invalid-cursor")


def test_a_building_with_nothing_yet_has_an_empty_timeline(field, client, as_user, world):
    body = page(client, as_user, world, who="office1", building="B3")
    assert body == {"items": [], "next_cursor": None}
