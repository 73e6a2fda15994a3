"""Decisions on submissions: who may decide what, at which stage, on which version.

A refused decision changes nothing: the submission keeps its ETag and its history.
"""

from __future__ import annotations

import pytest

from tests.fieldwork.conftest import assert_problem

FULL = ["grid_review", "office_review", "police_review"]
ROLE = {
    "gw1": "grid_staff",
    "office1": "fire_office",
    "police1": "fire_police",
    "mgr1": "building_manager",
}


def post_decision(client, as_user, submission_id, body, etag=None, who="gw1"):
    headers = dict(as_user(who))
    if etag is not None:
        headers["If-Match"] = etag
    return client.post(f"/api/v1/submissions/{submission_id}/decisions", json=body, headers=headers)


def state(field, submission_id) -> tuple[str, dict]:
    response = field.submission("admin", submission_id)
    assert response.status_code == 200, response.get_json()
    return response.headers["ETag"], response.get_json()


def audit_seqs(field, submission_id) -> list[int]:
    response = field.client.get(
        "/api/v1/audit/events",
        query_string={"object_type": "submission", "object_id": submission_id},
        headers=field.as_user("admin"),
    )
    assert response.status_code == 200, response.get_json()
    return [event["seq"] for event in response.get_json()["items"]]


def assert_refused(field, submission_id, response, status, slug, before, pointer=None) -> dict:
    """A problem of this status and slug, and the submission exactly as it was: same ETag,
    same history, nothing more in the audit trail."""
    problem = assert_problem(response, status, slug, pointer)
    etag, body = state(field, submission_id)
    assert etag == before[0]
    assert body["stage"] == before[1]["stage"]
    assert body["version"] == before[1]["version"]
    assert body["history"] == before[1]["history"]
    # One audit event per transition, and none for the refusal.
    assert len(audit_seqs(field, submission_id)) == len(before[1]["history"])
    return problem


def hazard_submission(field, who="officer1", building="B1", severity="major") -> str:
    """A reported hazard's submission (a major one goes the whole way)."""
    response = field.report(who, building, severity)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["submission_id"]


def closed_submission(field) -> str:
    """A clean self-check of B1, closed at grid review."""
    submission_id = field.submitted("mgr1")["submission_id"]
    assert field.approve_all(submission_id)["stage"] == "closed"
    return submission_id


# ---------------------------------------------------------------- preconditions


def test_decision_without_if_match_is_428(field, client, as_user):
    sid = hazard_submission(field)
    before = state(field, sid)
    response = post_decision(client, as_user, sid, {"decision": "approve"})
    assert_refused(field, sid, response, 428, "precondition-required", before)


def test_decision_on_a_stale_etag_after_someone_else_decided_is_412(field, client, as_user):
    sid = hazard_submission(field)
    stale, _ = state(field, sid)
    first = post_decision(client, as_user, sid, {"decision": "approve"}, stale, who="gw1")
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["stage"] == "office_review"
    before = state(field, sid)
    assert before[0] != stale
    late = post_decision(client, as_user, sid, {"decision": "approve"}, stale, who="office1")
    assert_refused(field, sid, late, 412, "precondition-failed", before)
    assert [h["decision"] for h in before[1]["history"]] == ["submit", "approve"]


def test_a_made_up_etag_is_412(field, client, as_user):
    sid = hazard_submission(field)
    before = state(field, sid)
    response = post_decision(
        client, as_user, sid, {"decision": "approve"}, '"0123456789abcdef0123"'
    )
    assert_refused(field, sid, response, 412, "precondition-failed", before)


# ---------------------------------------------------------------- who decides


@pytest.mark.parametrize("who", ["office1", "police1"])
def test_a_role_that_does_not_decide_at_the_stage_is_403(field, client, as_user, who):
    sid = hazard_submission(field)
    before = state(field, sid)
    assert before[1]["stage"] == "grid_review"
    response = post_decision(client, as_user, sid, {"decision": "approve"}, before[0], who=who)
    assert_refused(field, sid, response, 403, "forbidden", before)


def test_a_building_manager_may_not_decide_at_all(field, client, as_user):
    sid = field.submitted("mgr1")["submission_id"]
    before = state(field, sid)
    for decision in ("approve", "return"):
        body = {"decision": decision, "reason": "Looks fine to me"}
        response = post_decision(client, as_user, sid, body, before[0], who="mgr1")
        assert_refused(field, sid, response, 403, "forbidden", before)


def test_out_of_scope_is_404_and_does_not_name_the_submission(field, client, as_user):
    sid = hazard_submission(field, building="B2")
    before = state(field, sid)
    assert before[1]["stage"] == "grid_review"  # the stage gw1's role decides, but not in G2
    response = post_decision(client, as_user, sid, {"decision": "approve"}, before[0], who="gw1")
    assert_refused(field, sid, response, 404, "not-found", before)
    assert sid not in response.get_data(as_text=True)
    assert field.submission("gw1", sid).status_code == 404


def test_a_stage_that_does_not_allow_the_decision_is_409(field, client, as_user):
    sid = hazard_submission(field)
    before = state(field, sid)
    reopen = {"decision": "reopen", "reason": "Not done properly"}
    response = post_decision(client, as_user, sid, reopen, before[0], who="gw1")
    assert_refused(field, sid, response, 409, "conflict", before)

    closed = closed_submission(field)
    before = state(field, closed)
    for body in ({"decision": "approve"}, {"decision": "return", "reason": "Blurred photos"}):
        response = post_decision(client, as_user, closed, body, before[0], who="police1")
        assert_refused(field, closed, response, 409, "conflict", before)


@pytest.mark.parametrize("who", ["gw1", "office1"])
def test_only_fire_police_reopen_a_closed_submission(field, client, as_user, who):
    sid = closed_submission(field)
    before = state(field, sid)
    body = {"decision": "reopen", "reason": "The extinguisher was empty after all"}
    response = post_decision(client, as_user, sid, body, before[0], who=who)
    assert_refused(field, sid, response, 403, "forbidden", before)


def test_nobody_decides_on_a_returned_submission(field, client, as_user):
    sid = hazard_submission(field)
    returned = field.decide("gw1", sid, "return", reason="The photo shows another building")
    assert returned.status_code == 200, returned.get_json()
    before = state(field, sid)
    assert before[1]["stage"] == "returned"
    attempts = [
        ("gw1", {"decision": "approve"}),  # the role of the stage it was returned from
        ("gw1", {"decision": "return", "reason": "Again"}),
        ("office1", {"decision": "approve"}),
        ("police1", {"decision": "reopen", "reason": "Reopen it"}),
    ]
    for who, body in attempts:
        response = post_decision(client, as_user, sid, body, before[0], who=who)
        assert_refused(field, sid, response, 403, "forbidden", before)


# ---------------------------------------------------------------- the body


@pytest.mark.parametrize("reason", [None, "", "  "])
def test_return_needs_a_reason(field, client, as_user, reason):
    sid = hazard_submission(field)
    before = state(field, sid)
    body = {"decision": "return"} if reason is None else {"decision": "return", "reason": reason}
    response = post_decision(client, as_user, sid, body, before[0])
    assert_refused(field, sid, response, 422, "validation-failed", before, "/reason")


def test_reopen_needs_a_reason(field, client, as_user):
    sid = closed_submission(field)
    before = state(field, sid)
    for body in ({"decision": "reopen"}, {"decision": "reopen", "reason": " \t "}):
        response = post_decision(client, as_user, sid, body, before[0], who="police1")
        assert_refused(field, sid, response, 422, "validation-failed", before, "/reason")


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/decision"),
        ({"decision": "reject"}, "/decision"),
        ({"decision": "APPROVE"}, "/decision"),
        ({"decision": None}, "/decision"),
        ({"decision": 1}, "/decision"),
        ({"decision": ["approve"]}, "/decision"),
        ({"decision": "return", "reason": 5}, "/reason"),
        ({"decision": "return", "reason": "x" * 2001}, "/reason"),
        ({"decision": "approve", "items": "EXT-01"}, "/items"),
        ({"decision": "approve", "items": [1]}, "/items/0"),
        ({"decision": "approve", "comment": "fine"}, "/comment"),
        ({"decision": "approve", "stage": "closed"}, "/stage"),
    ],
)
def test_a_malformed_decision_is_422(field, client, as_user, body, pointer):
    sid = hazard_submission(field)
    before = state(field, sid)
    response = post_decision(client, as_user, sid, body, before[0])
    assert_refused(field, sid, response, 422, "validation-failed", before, pointer)


# ---------------------------------------------------------------- moving along


def test_approve_at_each_stage_moves_along_the_route(field, client, as_user, world):
    sid = hazard_submission(field)
    etags = [state(field, sid)[0]]
    stage = "grid_review"
    for to_stage, who in [
        ("office_review", "gw1"),
        ("police_review", "office1"),
        ("closed", "police1"),
    ]:
        read = field.submission(who, sid)
        assert read.status_code == 200, read.get_json()
        seen = read.get_json()
        assert seen["stage"] == stage
        assert seen["route"] == FULL
        assert read.headers["ETag"] == etags[-1]
        response = post_decision(client, as_user, sid, {"decision": "approve"}, etags[-1], who)
        assert response.status_code == 200, response.get_json()
        after = response.get_json()
        assert after["id"] == sid
        assert after["stage"] == to_stage
        assert after["version"] > seen["version"]
        assert response.headers["ETag"] not in etags
        assert state(field, sid)[0] == response.headers["ETag"]
        etags.append(response.headers["ETag"])
        entry = after["history"][-1]
        assert entry["seq"] == len(after["history"])
        assert entry["decision"] == "approve"
        assert entry["stage"] == stage
        assert entry["to_stage"] == to_stage
        assert entry["actor_id"] == str(world.users[who])
        assert entry["actor_role"] == ROLE[who]
        assert entry["reason"] is None
        assert entry["items"] == []
        assert entry["version"] == seen["version"]
        stage = to_stage
    _, closed = state(field, sid)
    assert closed["stage"] == "closed"
    assert closed["closed_at"] is not None
    assert closed["due_at"] is None
    assert closed["overdue"] is False
    assert [h["decision"] for h in closed["history"]] == ["submit", "approve", "approve", "approve"]
    assert [h["to_stage"] for h in closed["history"]] == [*FULL, "closed"]
    assert set(closed["time_in_stages"]) == set(FULL)
    assert all(seconds >= 0 for seconds in closed["time_in_stages"].values())


def test_stage_due_time_follows_the_stage(field, client, as_user):
    sid = hazard_submission(field)
    _, body = state(field, sid)
    assert body["due_at"] is not None
    assert body["overdue"] is False
    assert body["due_at"] > body["stage_entered_at"]
    assert field.decide("gw1", sid, "approve").status_code == 200
    _, moved = state(field, sid)
    assert moved["stage_entered_at"] >= body["stage_entered_at"]
    assert moved["due_at"] > moved["stage_entered_at"]


def test_return_from_office_review_and_resubmit_starts_again(field, client, as_user, world):
    answer = field.submitted("mgr1", failed=("LIGHT-01",))
    sid = answer["submission_id"]
    assert field.decide("gw1", sid, "approve").status_code == 200
    etag, seen = state(field, sid)
    assert seen["stage"] == "office_review"
    assert seen["route"] == FULL
    body = {
        "decision": "return",
        "reason": "  Extinguisher photo is blurred  ",
        "items": ["EXT-01"],
    }
    response = post_decision(client, as_user, sid, body, etag, who="office1")
    assert response.status_code == 200, response.get_json()
    returned = response.get_json()
    assert returned["stage"] == "returned"
    assert returned["due_at"] is None
    assert returned["closed_at"] is None
    assert response.headers["ETag"] != etag
    entry = returned["history"][-1]
    assert entry["decision"] == "return"
    assert entry["stage"] == "office_review"
    assert entry["to_stage"] == "returned"
    assert entry["actor_id"] == str(world.users["office1"])
    assert entry["actor_role"] == "fire_office"
    assert entry["reason"] == "Extinguisher photo is blurred"
    assert entry["items"] == ["EXT-01"]
    assert entry["version"] == seen["version"]

    again = field.resubmit("mgr1", sid, {"note": "Took the photo again"}, response.headers["ETag"])
    assert again.status_code == 200, again.get_json()
    resubmitted = again.get_json()
    assert resubmitted["id"] == sid
    assert resubmitted["stage"] == "grid_review"
    assert resubmitted["route"] == FULL
    assert again.headers["ETag"] not in (etag, response.headers["ETag"])
    history = resubmitted["history"]
    assert [h["decision"] for h in history] == ["submit", "approve", "return", "resubmit"]
    assert [h["seq"] for h in history] == [1, 2, 3, 4]
    assert history[-1]["stage"] == "returned"
    assert history[-1]["to_stage"] == "grid_review"
    assert history[-1]["actor_id"] == str(world.users["mgr1"])
    assert history[-1]["actor_role"] == "building_manager"
    assert set(resubmitted["time_in_stages"]) == {"grid_review", "office_review", "returned"}
    inspection = client.get(f"/api/v1/inspections/{answer['id']}", headers=as_user("mgr1"))
    assert inspection.get_json()["submission_id"] == sid


def test_police_reopen_escalates_to_the_whole_chain(field, client, as_user, world):
    sid = closed_submission(field)
    etag, closed = state(field, sid)
    assert closed["route"] == ["grid_review"]
    assert closed["escalated"] is False
    body = {"decision": "reopen", "reason": "The extinguisher was empty after all"}
    response = post_decision(client, as_user, sid, body, etag, who="police1")
    assert response.status_code == 200, response.get_json()
    reopened = response.get_json()
    assert reopened["stage"] == "returned"
    assert reopened["escalated"] is True
    assert reopened["closed_at"] is None
    entry = reopened["history"][-1]
    assert entry["decision"] == "reopen"
    assert entry["stage"] == "closed"
    assert entry["to_stage"] == "returned"
    assert entry["actor_id"] == str(world.users["police1"])
    assert entry["actor_role"] == "fire_police"
    assert entry["reason"] == body["reason"]
    assert entry["version"] == closed["version"]

    again = field.resubmit("mgr1", sid, {}, response.headers["ETag"])
    assert again.status_code == 200, again.get_json()
    resubmitted = again.get_json()
    assert resubmitted["id"] == sid
    assert resubmitted["route"] == FULL  # even though nothing failed
    assert resubmitted["escalated"] is True
    assert resubmitted["stage"] == "grid_review"
    assert [h["decision"] for h in resubmitted["history"]] == [
        "submit",
        "approve",
        "reopen",
        "resubmit",
    ]
    # It now needs every stage to close again.
    assert field.decide("gw1", sid, "approve").get_json()["stage"] == "office_review"
    assert field.approve_all(sid)["history"][-1]["actor_role"] == "fire_police"


def test_time_in_stages_counts_every_stage_visited(field):
    sid = hazard_submission(field)
    _, fresh = state(field, sid)
    assert set(fresh["time_in_stages"]) == {"grid_review"}
    field.decide("gw1", sid, "approve")
    field.decide("office1", sid, "return", reason="Wrong category")
    _, returned = state(field, sid)
    assert set(returned["time_in_stages"]) == {"grid_review", "office_review", "returned"}
    assert all(seconds >= 0 for seconds in returned["time_in_stages"].values())


# ---------------------------------------------------------------- reading


def test_if_none_match_answers_304_until_the_submission_changes(field, client, as_user):
    sid = hazard_submission(field)
    first = field.submission("gw1", sid)
    etag = first.headers["ETag"]
    headers = {**as_user("gw1"), "If-None-Match": etag}
    unchanged = client.get(f"/api/v1/submissions/{sid}", headers=headers)
    assert unchanged.status_code == 304
    assert unchanged.headers["ETag"] == etag
    assert unchanged.get_data() == b""
    assert field.decide("gw1", sid, "approve").status_code == 200
    changed = client.get(f"/api/v1/submissions/{sid}", headers=headers)
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.get_json()["stage"] == "office_review"


def list_all(client, headers, **params) -> list[dict]:
    """Every page of GET /submissions, one item per page; no item twice."""
    items, cursor = [], None
    for _ in range(50):
        query = {**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/submissions", query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        assert len(page["items"]) <= 1
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            ids = [i["id"] for i in items]
            assert len(ids) == len(set(ids))
            return items
    raise AssertionError("the pages never ended")


def test_list_shows_the_scope_and_filters(field, client, as_user, world):
    self_check = field.submitted("mgr1")["submission_id"]  # B1, inspection, by mgr1
    b1_hazard = hazard_submission(field, building="B1")  # by officer1
    b2_hazard = hazard_submission(field, building="B2")
    assert field.decide("gw1", b1_hazard, "approve").status_code == 200  # → office_review

    def ids(who, **params):
        response = client.get("/api/v1/submissions", query_string=params, headers=as_user(who))
        assert response.status_code == 200, response.get_json()
        return {item["id"] for item in response.get_json()["items"]}

    everything = {self_check, b1_hazard, b2_hazard}
    assert ids("admin") == everything
    assert ids("office1") == everything
    assert ids("officer1") == everything
    assert ids("gw1") == {self_check, b1_hazard}
    assert ids("mgr1") == {self_check, b1_hazard}

    assert ids("office1", stage="grid_review") == {self_check, b2_hazard}
    assert ids("office1", stage="office_review") == {b1_hazard}
    assert ids("office1", stage="closed") == set()
    assert ids("office1", building_id=str(world.buildings["B2"])) == {b2_hazard}
    assert ids("gw1", building_id=str(world.buildings["B2"])) == set()
    assert ids("office1", subject_type="hazard") == {b1_hazard, b2_hazard}
    assert ids("office1", subject_type="inspection") == {self_check}
    assert ids("mgr1", mine="true") == {self_check}
    assert ids("officer1", mine="true") == {b1_hazard, b2_hazard}
    assert ids("gw1", mine="true") == set()
    assert ids("office1", subject_type="hazard", stage="grid_review") == {b2_hazard}

    walked = list_all(client, as_user("office1"))
    assert {item["id"] for item in walked} == everything
    longest_first = [item["stage_entered_at"] for item in walked]
    assert longest_first == sorted(longest_first)
    assert {i["id"] for i in list_all(client, as_user("gw1"))} == {self_check, b1_hazard}


@pytest.mark.parametrize(
    "params",
    [{"stage": "drafted"}, {"subject_type": "photo"}, {"building_id": "B1"}, {"limit": 0}],
)
def test_list_refuses_bad_filters(field, client, as_user, params):
    response = client.get("/api/v1/submissions", query_string=params, headers=as_user("gw1"))
    assert_problem(response, 422, "validation-failed", "/" + next(iter(params)))


def test_list_refuses_a_bad_cursor(field, client, as_user):
    response = client.get(
        "/api/v1/submissions", query_string={"cursor": "not-a-cursor"}, headers=as_user("gw1")
    )
    assert_problem(response, 400, "invalid-cursor")


# ---------------------------------------------------------------- separation of duties, precision


def test_nobody_decides_on_their_own_submission(field, client, as_user):
    sid = hazard_submission(field, who="gw1", severity="minor")
    before = state(field, sid)
    response = post_decision(client, as_user, sid, {"decision": "approve"}, before[0], who="gw1")
    problem = assert_refused(field, sid, response, 403, "forbidden", before)
    assert "someone else" in problem["detail"]


def test_a_weak_etag_does_not_match_if_match(field, client, as_user):
    sid = field.submitted("mgr1")["submission_id"]
    before = state(field, sid)
    response = post_decision(client, as_user, sid, {"decision": "approve"}, f"W/{before[0]}")
    assert_refused(field, sid, response, 412, "precondition-failed", before)


def test_a_return_names_items_of_the_inspection_only(field, client, as_user):
    sid = field.submitted("mgr1")["submission_id"]
    before = state(field, sid)
    body = {"decision": "return", "reason": "Look again", "items": ["EXT-01", "ZZZ-99"]}
    response = post_decision(client, as_user, sid, body, before[0])
    assert_refused(field, sid, response, 422, "validation-failed", before, "/items/1")

    report = hazard_submission(field)
    before = state(field, report)
    body = {"decision": "return", "reason": "Look again", "items": ["EXT-01"]}
    response = post_decision(client, as_user, report, body, before[0])
    assert_refused(field, report, response, 422, "validation-failed", before, "/items")
