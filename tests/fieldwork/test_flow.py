"""A self-check from the phone to closed, and a hazard from report to rectified."""

from __future__ import annotations

from tests.fieldwork.conftest import SEVERITY


def test_clean_self_check_closes_at_grid_review(field):
    answer = field.submitted("mgr1")
    assert answer["status"] == "submitted"
    assert answer["stage"] == "grid_review"
    assert answer["failed"] == []
    assert answer["hazard_ids"] == []
    submission_id = answer["submission_id"]
    assert any(i["submission_id"] == submission_id for i in field.inbox("gw1"))
    closed = field.approve_all(submission_id)
    assert closed["route"] == ["grid_review"]
    assert [h["decision"] for h in closed["history"]] == ["submit", "approve"]
    assert closed["closed_at"] is not None


def test_failed_items_become_hazards_and_go_the_whole_way(field):
    answer = field.submitted("mgr1", failed=("EBIKE-01", "LIGHT-01"))
    assert sorted(answer["failed"]) == ["EBIKE-01", "LIGHT-01"]
    assert len(answer["hazard_ids"]) == 2
    hazards = [field.hazard("mgr1", h) for h in answer["hazard_ids"]]
    assert {h["severity"] for h in hazards} == {SEVERITY["EBIKE-01"], SEVERITY["LIGHT-01"]}
    assert all(h["status"] == "open" and h["due_at"] for h in hazards)
    closed = field.approve_all(answer["submission_id"])
    assert closed["route"] == ["grid_review", "office_review", "police_review"]
    assert [h["decision"] for h in closed["history"]] == ["submit", *["approve"] * 3]

    critical = next(h for h in hazards if h["severity"] == "critical")
    rect = field.rectify("mgr1", critical["id"])
    assert rect.status_code == 201, rect.get_json()
    assert field.hazard("mgr1", critical["id"])["status"] == "rectifying"
    field.approve_all(rect.get_json()["submission_id"])
    after = field.hazard("mgr1", critical["id"])
    assert after["status"] == "closed"
    assert after["closed_at"]


def test_return_and_resubmit(field):
    answer = field.submitted("mgr1")
    sid = answer["submission_id"]
    returned = field.decide("gw1", sid, "return", reason="Photo of the extinguisher is blurred")
    assert returned.status_code == 200, returned.get_json()
    assert returned.get_json()["stage"] == "returned"
    mine = field.inbox("mgr1")
    assert any(i["kind"] == "returned" and i["submission_id"] == sid for i in mine)
    again = field.submit("mgr1", answer["id"])
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["stage"] == "grid_review"
    history = field.submission("gw1", sid).get_json()["history"]
    assert [h["decision"] for h in history] == ["submit", "return", "resubmit"]


def test_timeline(field, client, as_user, world):
    field.submitted("mgr1", failed=("EXT-01",))
    response = client.get(
        f"/api/v1/buildings/{world.buildings['B1']}/timeline", headers=as_user("gw1")
    )
    assert response.status_code == 200, response.get_json()
    kinds = [e["kind"] for e in response.get_json()["items"]]
    assert sorted(set(kinds)) == ["decision", "hazard", "inspection"]
