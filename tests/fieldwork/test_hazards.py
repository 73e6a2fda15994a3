"""Hazards (隐患) over HTTP: reported on patrol, listed and filtered, and rectified by the
building's manager through the review chain, returned, resubmitted, closed and reopened.

Every refusal is checked for what it leaves behind: nothing written, the hazard unchanged.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from fieldapi.fieldwork.models import Hazard, Rectification
from fieldapi.review.models import Submission
from tests.buildings import pages
from tests.fieldwork.conftest import assert_problem

API = "/api/v1/hazards"
FULL_ROUTE = ["grid_review", "office_review", "police_review"]
DEADLINE = {
    "critical": timedelta(hours=24),
    "major": timedelta(days=7),
    "minor": timedelta(days=30),
}
SLACK = timedelta(seconds=30)


# ---------------------------------------------------------------- helpers


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def rows(db, model) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model))


def report_body(field, who: str, building="B1", severity="major", **extra) -> dict:
    body = {
        "id": str(uuid.uuid4()),
        "building_id": str(field.world.buildings[building]),
        "category": "electric_bikes",
        "severity": severity,
        "description": "Two e-bikes charging in the stairwell",
        "photo_ids": [field.photo(who)],
    }
    body.update(extra)
    return body


def post_report(field, who: str, body: dict):
    return field.client.post(API, json=body, headers=field.as_user(who))


def reported(field, who: str, building="B1", severity="major") -> dict:
    response = field.report(who, building, severity)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def rect_body(field, who="mgr1", **extra) -> dict:
    body = {"id": str(uuid.uuid4()), "note": "Bikes moved out, socket removed",
            "photo_ids": [field.photo(who)]}  # fmt: skip
    body.update(extra)
    return body


def post_rect(field, who: str, hazard_id: str, body: dict):
    return field.client.post(f"{API}/{hazard_id}/rectifications", json=body,
                             headers=field.as_user(who))  # fmt: skip


def rectified(field, hazard_id: str) -> dict:
    response = field.rectify("mgr1", hazard_id)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def rectifications(field, who: str, hazard_id: str) -> list[dict]:
    response = field.client.get(f"{API}/{hazard_id}/rectifications", headers=field.as_user(who))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def risk(field, code="B1") -> str:
    response = field.client.get(
        f"/api/v1/buildings/{field.world.buildings[code]}", headers=field.as_user("admin")
    )
    assert response.status_code == 200
    return response.get_json()["risk_level"]


def listed(field, who: str, **query) -> list[str]:
    response = field.client.get(API, query_string=query, headers=field.as_user(who))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["next_cursor"] is None
    return [h["id"] for h in response.get_json()["items"]]


def returned(field, submission_id: str, reason="The socket is still there in the photo"):
    response = field.decide("gw1", submission_id, "return", reason=reason)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["stage"] == "returned"


# ---------------------------------------------------------------- reporting


@pytest.mark.parametrize(
    ("severity", "route"),
    [("minor", ["grid_review"]), ("major", FULL_ROUTE), ("critical", FULL_ROUTE)],
)
def test_an_officer_reports_a_hazard_and_it_goes_into_review(field, db, severity, route):
    body = report_body(field, "officer1", "B2", severity)
    before = datetime.now(UTC)

    response = post_report(field, "officer1", body)

    assert response.status_code == 201, response.get_json()
    assert response.headers["ETag"]
    got = response.get_json()
    assert got["id"] == body["id"]
    assert (got["source"], got["status"], got["severity"]) == ("report", "open", severity)
    assert (got["category"], got["description"]) == (body["category"], body["description"])
    assert got["photo_ids"] == body["photo_ids"]
    assert got["building_id"] == body["building_id"]
    assert got["reported_by"] == str(field.world.users["officer1"])
    assert (got["inspection_id"], got["item_code"], got["closed_at"]) == (None, None, None)
    assert got["overdue"] is False
    assert got["waiting_for"] == []
    assert got["stage"] == "grid_review"
    due = when(got["due_at"])
    assert before + DEADLINE[severity] - SLACK <= due <= datetime.now(UTC) + DEADLINE[severity]
    submission = field.submission("officer1", got["submission_id"]).get_json()
    assert submission["route"] == route
    assert submission["subject"] == {"type": "hazard", "id": body["id"]}
    assert [h["decision"] for h in submission["history"]] == ["submit"]
    assert rows(db, Hazard) == rows(db, Submission) == 1
    # The photo is judged as evidence about B2.
    assert set(got["photo_flags"]) == set(body["photo_ids"])


def test_grid_staff_report_too_and_someone_else_reviews_it(field):
    got = reported(field, "gw1", "B1", "minor")

    assert got["reported_by"] == str(field.world.users["gw1"])
    assert got["stage"] == "grid_review"
    assert all(i["submission_id"] != got["submission_id"] for i in field.inbox("gw1"))
    own = field.decide("gw1", got["submission_id"], "approve")
    assert_problem(own, 403, "forbidden")
    assert field.submission("admin", got["submission_id"]).get_json()["stage"] == "grid_review"


@pytest.mark.parametrize("photo_ids", [[], None, "missing"])
def test_a_report_without_photos_is_refused(field, db, photo_ids):
    body = report_body(field, "officer1", "B2")
    if photo_ids == "missing":
        del body["photo_ids"]
    else:
        body["photo_ids"] = photo_ids

    response = post_report(field, "officer1", body)

    assert_problem(response, 422, "validation-failed", pointer="/photo_ids")
    assert rows(db, Hazard) == 0


def test_a_report_naming_a_photo_you_cannot_see_is_refused(field, db):
    body = report_body(field, "officer1", "B1")
    body["photo_ids"].append(field.photo("gw1"))

    response = post_report(field, "officer1", body)

    assert_problem(response, 422, "validation-failed", pointer="/photo_ids/1")
    assert rows(db, Hazard) == 0


@pytest.mark.parametrize(("who", "code"), [("officer1", "B4"), ("gw1", "B2"), ("gw1", "B4")])
def test_a_report_on_a_building_out_of_scope_is_refused(field, db, who, code):
    response = post_report(field, who, report_body(field, who, code))

    assert_problem(response, 422, "validation-failed", pointer="/building_id")
    assert rows(db, Hazard) == rows(db, Submission) == 0


@pytest.mark.parametrize("who", ["mgr1", "office1", "police1", "admin"])
def test_roles_that_do_not_report_are_forbidden(field, db, who):
    response = post_report(field, who, report_body(field, who, "B1"))

    assert_problem(response, 403, "forbidden")
    assert rows(db, Hazard) == 0


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"severity": "huge"}, "/severity"),
        ({"category": "Bad Category"}, "/category"),
        ({"description": ""}, "/description"),
        ({"location": {"lat": "north", "lon": 114.0}}, "/location/lat"),
        ({"observed_at": "2999-01-01T00:00:00+00:00"}, "/observed_at"),
        ({"colour": "red"}, "/colour"),
    ],
)
def test_a_bad_report_is_refused_with_the_field_named(field, db, change, pointer):
    body = report_body(field, "officer1", "B1")
    body.update(change)

    response = post_report(field, "officer1", body)

    assert_problem(response, 422, "validation-failed", pointer=pointer)
    assert rows(db, Hazard) == 0


def test_the_same_report_again_answers_the_stored_hazard(field, db):
    body = report_body(field, "officer1", "B2")
    first = post_report(field, "officer1", body)
    assert first.status_code == 201

    again = post_report(field, "officer1", body)

    assert again.status_code == 200, again.get_json()
    assert again.get_json() == first.get_json()
    assert rows(db, Hazard) == rows(db, Submission) == 1


def test_the_same_id_with_other_content_is_a_conflict(field, db):
    body = report_body(field, "officer1", "B2")
    first = post_report(field, "officer1", body)
    assert first.status_code == 201

    response = post_report(field, "officer1", {**body, "severity": "critical"})

    assert_problem(response, 409, "conflict", pointer="/id")
    assert field.hazard("officer1", body["id"])["severity"] == "major"
    assert rows(db, Hazard) == 1


def test_an_unchanged_hazard_answers_304(field):
    got = reported(field, "gw1", "B1")
    first = field.client.get(f"{API}/{got['id']}", headers=field.as_user("gw1"))

    again = field.client.get(
        f"{API}/{got['id']}",
        headers={**field.as_user("gw1"), "If-None-Match": first.headers["ETag"]},
    )

    assert again.status_code == 304


def test_a_hazard_whose_review_moved_on_is_not_answered_304(field):
    """The stage shown changed, so the copy the phone holds is stale."""
    got = reported(field, "officer1", "B1", "minor")
    first = field.client.get(f"{API}/{got['id']}", headers=field.as_user("gw1"))
    assert first.get_json()["stage"] == "grid_review"
    assert field.decide("gw1", got["submission_id"], "approve").status_code == 200

    again = field.client.get(
        f"{API}/{got['id']}",
        headers={**field.as_user("gw1"), "If-None-Match": first.headers["ETag"]},
    )

    assert again.status_code == 200
    assert again.get_json()["stage"] == "closed"


def test_a_hazard_out_of_scope_is_not_found(field):
    got = reported(field, "officer1", "B2")

    response = field.client.get(f"{API}/{got['id']}", headers=field.as_user("gw1"))

    assert_problem(response, 404, "not-found")
    assert_problem(
        field.client.get(f"{API}/{uuid.uuid4()}", headers=field.as_user("gw1")), 404, "not-found"
    )


# ---------------------------------------------------------------- listing


@pytest.fixture
def listing(field, db):
    """Hazards in B1 and B2; one closed long past its deadline, one open and overdue."""
    made = {
        "major_b2": reported(field, "officer1", "B2", "major")["id"],
        "minor_b1": reported(field, "officer1", "B1", "minor")["id"],
        "critical_b1": reported(field, "gw1", "B1", "critical")["id"],
        "closed_b1": reported(field, "gw1", "B1", "minor")["id"],
    }
    past = datetime.now(UTC) - timedelta(hours=2)
    overdue = db.get(Hazard, uuid.UUID(made["minor_b1"]))
    overdue.due_at = past
    closed = db.get(Hazard, uuid.UUID(made["closed_b1"]))
    closed.due_at, closed.status, closed.closed_at = past, "closed", past
    db.commit()
    return made


def test_the_list_shows_only_what_is_in_scope(field, listing):
    b1 = {listing[n] for n in ("minor_b1", "critical_b1", "closed_b1")}

    assert set(listed(field, "gw1")) == b1
    assert set(listed(field, "mgr1")) == b1
    assert set(listed(field, "officer1")) == b1 | {listing["major_b2"]}
    assert listed(field, "gw1", building_id=str(field.world.buildings["B2"])) == []


def test_the_list_filters(field, listing):
    b2 = str(field.world.buildings["B2"])

    assert listed(field, "officer1", building_id=b2) == [listing["major_b2"]]
    assert listed(field, "officer1", status="closed") == [listing["closed_b1"]]
    assert set(listed(field, "officer1", status="open")) == {
        listing["major_b2"],
        listing["minor_b1"],
        listing["critical_b1"],
    }
    assert set(listed(field, "officer1", severity="minor")) == {
        listing["minor_b1"],
        listing["closed_b1"],
    }
    assert listed(field, "officer1", severity="critical") == [listing["critical_b1"]]
    assert listed(field, "officer1", overdue="true") == [listing["minor_b1"]]
    assert set(listed(field, "officer1", overdue="false")) == {
        listing["major_b2"],
        listing["critical_b1"],
        listing["closed_b1"],
    }
    assert listed(field, "gw1", overdue="true", severity="minor", status="open") == [
        listing["minor_b1"]
    ]


def test_overdue_is_computed_from_the_deadline_and_the_state(field, listing):
    assert field.hazard("gw1", listing["minor_b1"])["overdue"] is True
    assert field.hazard("gw1", listing["critical_b1"])["overdue"] is False
    # Past its deadline but closed: nothing is overdue any more.
    assert field.hazard("gw1", listing["closed_b1"])["overdue"] is False
    items = {
        h["id"]: h for h in field.client.get(API, headers=field.as_user("gw1")).get_json()["items"]
    }
    assert items[listing["minor_b1"]]["overdue"] is True
    assert items[listing["closed_b1"]]["overdue"] is False


def test_an_overdue_hazard_waits_in_the_grid_workers_inbox(field, listing):
    due = [i for i in field.inbox("gw1") if i["kind"] == "hazard_due"]

    assert [(i["hazard_id"], i["overdue"]) for i in due] == [(listing["minor_b1"], True)]


def test_a_bad_filter_is_refused(field, listing):
    for query, pointer in (({"severity": "huge"}, "/severity"), ({"status": "lost"}, "/status")):
        response = field.client.get(API, query_string=query, headers=field.as_user("gw1"))
        assert_problem(response, 422, "validation-failed", pointer=pointer)


def test_the_list_pages_without_duplicates_or_gaps(field, listing):
    everything = listed(field, "officer1")

    found = pages(field.client, field.as_user("officer1"), API, limit=1)

    assert [h["id"] for page in found for h in page] == everything
    assert len(everything) == 4


# ---------------------------------------------------------------- rectifications


@pytest.fixture
def hazard(field) -> dict:
    """A major hazard of B1, reported by gw1: open."""
    return reported(field, "gw1", "B1", "major")


@pytest.mark.parametrize("who", ["gw1", "officer1", "office1", "police1", "admin"])
def test_only_the_building_manager_rectifies(field, db, hazard, who):
    response = post_rect(field, who, hazard["id"], rect_body(field, who))

    assert_problem(response, 403, "forbidden")
    assert rows(db, Rectification) == 0
    assert field.hazard("gw1", hazard["id"])["status"] == "open"


def test_a_hazard_out_of_scope_is_not_found_for_rectifying(field, db):
    elsewhere = reported(field, "officer1", "B2")

    response = post_rect(field, "mgr1", elsewhere["id"], rect_body(field))

    assert_problem(response, 404, "not-found")
    assert_problem(post_rect(field, "mgr1", str(uuid.uuid4()), rect_body(field)), 404, "not-found")
    assert rows(db, Rectification) == 0
    assert field.hazard("officer1", elsewhere["id"])["status"] == "open"


def test_a_rectification_goes_into_review_and_the_hazard_is_being_rectified(field, db, hazard):
    body = rect_body(field)

    response = post_rect(field, "mgr1", hazard["id"], body)

    assert response.status_code == 201, response.get_json()
    got = response.get_json()
    assert (got["id"], got["hazard_id"], got["note"]) == (body["id"], hazard["id"], body["note"])
    assert got["photo_ids"] == body["photo_ids"]
    assert got["submitted_by"] == str(field.world.users["mgr1"])
    assert (got["status"], got["stage"], got["waiting_for"]) == ("submitted", "grid_review", [])
    assert field.hazard("mgr1", hazard["id"])["status"] == "rectifying"
    # A major hazard's rectification goes the whole way.
    assert field.submission("mgr1", got["submission_id"]).get_json()["route"] == FULL_ROUTE
    assert [r["id"] for r in rectifications(field, "gw1", hazard["id"])] == [body["id"]]
    assert any(i["submission_id"] == got["submission_id"] for i in field.inbox("gw1"))


@pytest.mark.parametrize(
    ("change", "pointer"),
    [({"photo_ids": []}, "/photo_ids"), ({"note": ""}, "/note"), ({"id": "x"}, "/id")],
)
def test_a_bad_rectification_is_refused(field, db, hazard, change, pointer):
    response = post_rect(field, "mgr1", hazard["id"], rect_body(field, **change))

    assert_problem(response, 422, "validation-failed", pointer=pointer)
    assert rows(db, Rectification) == 0
    assert field.hazard("mgr1", hazard["id"])["status"] == "open"


def test_a_rectification_naming_a_photo_you_cannot_see_is_refused(field, db, hazard):
    body = rect_body(field, photo_ids=[field.photo("gw1")])

    response = post_rect(field, "mgr1", hazard["id"], body)

    assert_problem(response, 422, "validation-failed", pointer="/photo_ids/0")
    assert rows(db, Rectification) == 0


def test_the_same_rectification_again_answers_the_stored_one(field, db, hazard):
    body = rect_body(field)
    first = post_rect(field, "mgr1", hazard["id"], body)
    assert first.status_code == 201

    again = post_rect(field, "mgr1", hazard["id"], body)

    assert again.status_code == 200, again.get_json()
    assert again.get_json() == first.get_json()
    other = post_rect(field, "mgr1", hazard["id"], {**body, "note": "Something else"})
    assert_problem(other, 409, "conflict", pointer="/id")
    assert rows(db, Rectification) == 1
    assert rows(db, Submission) == 2  # the report's and the rectification's


def test_a_second_rectification_while_one_is_in_review_is_a_conflict(field, db, hazard):
    rectified(field, hazard["id"])

    response = post_rect(field, "mgr1", hazard["id"], rect_body(field))

    assert_problem(response, 409, "conflict")
    assert rows(db, Rectification) == 1
    assert field.hazard("mgr1", hazard["id"])["status"] == "rectifying"


def test_a_closed_hazard_is_not_rectified_again(field, db, hazard):
    first = rectified(field, hazard["id"])
    field.approve_all(first["submission_id"])
    assert field.hazard("mgr1", hazard["id"])["status"] == "closed"

    response = post_rect(field, "mgr1", hazard["id"], rect_body(field))

    assert_problem(response, 409, "conflict")
    assert rows(db, Rectification) == 1


def test_a_withdrawn_hazard_is_not_rectified(field, db, hazard):
    row = db.get(Hazard, uuid.UUID(hazard["id"]))
    row.status = "withdrawn"
    db.commit()

    response = post_rect(field, "mgr1", hazard["id"], rect_body(field))

    assert_problem(response, 409, "conflict")
    assert rows(db, Rectification) == 0
    assert field.hazard("mgr1", hazard["id"])["status"] == "withdrawn"


def test_a_hazard_from_a_failed_item_is_rectified_the_same_way(field):
    answer = field.submitted("mgr1", failed=("LIGHT-01",))
    [hazard_id] = answer["hazard_ids"]

    got = rectified(field, hazard_id)

    # A minor hazard's rectification is signed off by the fire protection office.
    route = field.submission("mgr1", got["submission_id"]).get_json()["route"]
    assert route == ["grid_review", "office_review"]
    field.approve_all(got["submission_id"])
    assert field.hazard("mgr1", hazard_id)["status"] == "closed"


def test_a_returned_rectification_reopens_the_hazard_and_is_resubmitted(field, db, hazard):
    first = rectified(field, hazard["id"])
    sid = first["submission_id"]
    returned(field, sid)
    assert field.hazard("mgr1", hazard["id"])["status"] == "open"
    assert any(i["kind"] == "returned" and i["submission_id"] == sid for i in field.inbox("mgr1"))
    # Not a second rectification: the returned one is resubmitted.
    assert_problem(post_rect(field, "mgr1", hazard["id"], rect_body(field)), 409, "conflict")
    new_photo = field.photo("mgr1")
    change = {"note": "Socket removed by an electrician", "photo_ids": [new_photo]}

    assert_problem(field.client.post(f"/api/v1/submissions/{sid}/resubmit", json=change,
                                     headers=field.as_user("mgr1")),
                   428, "precondition-required")  # fmt: skip
    assert_problem(field.resubmit("mgr1", sid, change, etag='"stale"'), 412,
                   "precondition-failed")  # fmt: skip
    assert field.hazard("mgr1", hazard["id"])["status"] == "open"
    response = field.resubmit("mgr1", sid, change)

    assert response.status_code == 200, response.get_json()
    submission = response.get_json()
    assert submission["stage"] == "grid_review"
    assert [h["decision"] for h in submission["history"]] == ["submit", "return", "resubmit"]
    assert field.hazard("mgr1", hazard["id"])["status"] == "rectifying"
    [shown] = rectifications(field, "mgr1", hazard["id"])
    assert (shown["id"], shown["note"], shown["photo_ids"]) == (
        first["id"],
        change["note"],
        [new_photo],
    )
    assert list(shown["photo_flags"]) == [new_photo]
    assert rows(db, Rectification) == 1
    assert rows(db, Submission) == 2  # the report's and the rectification's


def test_only_the_submitter_resubmits_and_only_when_returned(field, hazard):
    first = rectified(field, hazard["id"])
    sid = first["submission_id"]

    assert_problem(field.resubmit("mgr1", sid, {"note": "again"}), 409, "conflict")
    returned(field, sid)
    etag = field.etag(sid)
    assert_problem(field.resubmit("gw1", sid, {"note": "mine"}, etag), 403, "forbidden")
    assert field.etag(sid) == etag
    assert rectifications(field, "mgr1", hazard["id"])[0]["note"] == first["note"]
    assert field.hazard("mgr1", hazard["id"])["status"] == "open"


def test_a_resubmission_naming_a_photo_you_cannot_see_changes_nothing(field, hazard):
    first = rectified(field, hazard["id"])
    sid = first["submission_id"]
    returned(field, sid)
    etag = field.etag(sid)

    response = field.resubmit(
        "mgr1", sid, {"note": "fixed", "photo_ids": [field.photo("gw1")]}, etag
    )

    assert_problem(response, 422, "validation-failed", pointer="/photo_ids/0")
    assert field.etag(sid) == etag
    [shown] = rectifications(field, "mgr1", hazard["id"])
    assert (shown["note"], shown["photo_ids"]) == (first["note"], first["photo_ids"])
    assert field.hazard("mgr1", hazard["id"])["status"] == "open"


def test_the_final_approval_closes_the_hazard(field, hazard):
    assert risk(field) == "high"
    got = rectified(field, hazard["id"])
    assert field.hazard("mgr1", hazard["id"])["closed_at"] is None

    closed = field.approve_all(got["submission_id"])

    after = field.hazard("mgr1", hazard["id"])
    assert after["status"] == "closed"
    assert when(after["closed_at"]) == when(closed["closed_at"])
    assert after["overdue"] is False
    assert [h["decision"] for h in closed["history"]] == ["submit", "approve", "approve", "approve"]
    assert risk(field) == "low"
    assert listed(field, "gw1", status="closed") == [hazard["id"]]


def test_a_hazard_closed_before_its_last_stage_is_not_closed(field, hazard):
    got = rectified(field, hazard["id"])

    assert field.decide("gw1", got["submission_id"], "approve").status_code == 200
    assert field.decide("office1", got["submission_id"], "approve").status_code == 200

    assert field.hazard("mgr1", hazard["id"])["status"] == "rectifying"
    assert risk(field) == "high"


def test_fire_police_reopen_a_closed_rectification_and_it_goes_the_whole_way(field):
    minor = reported(field, "gw1", "B1", "minor")
    got = rectified(field, minor["id"])
    sid = got["submission_id"]
    closed = field.approve_all(sid)
    assert closed["route"] == ["grid_review", "office_review"]
    assert field.hazard("mgr1", minor["id"])["status"] == "closed"
    assert risk(field) == "low"
    assert_problem(field.decide("office1", sid, "reopen", reason="Looks wrong"), 403, "forbidden")
    assert_problem(field.decide("police1", sid, "reopen"), 422, "validation-failed", "/reason")

    response = field.decide("police1", sid, "reopen", reason="The socket is back")

    assert response.status_code == 200, response.get_json()
    reopened = response.get_json()
    assert (reopened["stage"], reopened["escalated"], reopened["closed_at"]) == (
        "returned",
        True,
        None,
    )
    after = field.hazard("mgr1", minor["id"])
    assert (after["status"], after["closed_at"]) == ("open", None)
    assert risk(field) == "medium"
    again = field.resubmit("mgr1", sid, {"note": "Socket removed for good"})
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["route"] == FULL_ROUTE
    assert again.get_json()["stage"] == "grid_review"
    assert field.hazard("mgr1", minor["id"])["status"] == "rectifying"
    final = field.approve_all(sid)
    assert [h["decision"] for h in final["history"]] == [
        "submit", "approve", "approve", "reopen", "resubmit", "approve", "approve", "approve",
    ]  # fmt: skip
    assert field.hazard("mgr1", minor["id"])["status"] == "closed"
    assert risk(field) == "low"


def test_rectifications_are_listed_oldest_first_and_only_in_scope(field, hazard):
    first = rectified(field, hazard["id"])
    returned(field, first["submission_id"])

    assert [r["id"] for r in rectifications(field, "office1", hazard["id"])] == [first["id"]]
    elsewhere = reported(field, "officer1", "B2")
    response = field.client.get(
        f"{API}/{elsewhere['id']}/rectifications", headers=field.as_user("mgr1")
    )
    assert_problem(response, 404, "not-found")
