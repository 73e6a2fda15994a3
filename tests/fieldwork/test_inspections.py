"""Inspections over HTTP: drafts, edits, submitting, the hazards failed items raise, photo
flags, what a closed one does to the building, and reading them back.

Every refusal is checked for what it leaves behind: nothing written, the ETag unchanged.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from fieldapi.audit.models import AuditEvent
from fieldapi.buildings.models import Building
from fieldapi.checklists.defaults import DEFAULT_ITEMS
from fieldapi.fieldwork.models import Hazard, Inspection, InspectionResult
from fieldapi.review.models import Submission
from tests.buildings import pages
from tests.fieldwork.conftest import PHOTO_ITEMS, SEVERITY, assert_problem
from tests.photos import images
from tests.photos.conftest import sha256, small_jpeg

API = "/api/v1/inspections"
B1_SITE = (22.528, 114.063)
METRES_PER_DEGREE_LAT = 111_195
DEADLINE = {
    "critical": timedelta(hours=24),
    "major": timedelta(days=7),
    "minor": timedelta(days=30),
}
SLACK = timedelta(seconds=30)
FULL_ROUTE = ["grid_review", "office_review", "police_review"]


# ---------------------------------------------------------------- helpers


def ago(**delta) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def rows(db, model) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model))


def entry(field, who: str, code: str, result: str = "pass", *, photo: bool = True, note=None):
    """One checklist result; a photo where the default checklist asks for one."""
    item: dict = {"code": code, "result": result}
    if photo and code in PHOTO_ITEMS:
        item["photo_ids"] = [field.photo(who)]
    if note is not None:
        item["note"] = note
    return item


def draft(field, building="B1", kind="self_check", items=(), **extra) -> dict:
    """An inspection body with only the results given (items not listed are not checked)."""
    body = {
        "id": str(uuid.uuid4()),
        "building_id": str(field.world.buildings[building]),
        "kind": kind,
        "performed_at": ago(minutes=5).isoformat(),
        "location": {"lat": 22.528, "lon": 114.063},
        "items": list(items),
    }
    body.update(extra)
    return body


def created(field, who: str, body: dict) -> dict:
    response = field.create(who, body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def read(field, who: str, inspection_id: str):
    return field.client.get(f"{API}/{inspection_id}", headers=field.as_user(who))


def shown(field, who: str, inspection_id: str) -> dict:
    response = read(field, who, inspection_id)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def etag_of(field, inspection_id: str, who: str = "mgr1") -> str:
    response = read(field, who, inspection_id)
    assert response.status_code == 200, response.get_json()
    return response.headers["ETag"]


def patch(field, who: str, inspection_id: str, body: dict, etag: str | None = None):
    headers = dict(field.as_user(who))
    if etag is not None:
        headers["If-Match"] = etag
    return field.client.patch(f"{API}/{inspection_id}", json=body, headers=headers)


def building(field, who: str, code: str) -> dict:
    response = field.client.get(
        f"/api/v1/buildings/{field.world.buildings[code]}", headers=field.as_user(who)
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def templates(field, use_type: str) -> list[dict]:
    response = field.client.get(
        "/api/v1/templates",
        query_string={"use_type": use_type, "all_versions": "true"},
        headers=field.as_user("admin"),
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def new_residential_version(field, *extra_items: dict) -> dict:
    body = {
        "use_type": "residential",
        "name": "住宅消防自查（修订）",
        "items": [*(dict(i) for i in DEFAULT_ITEMS[:3]), *extra_items],
    }
    response = field.client.post("/api/v1/templates", json=body, headers=field.as_user("admin"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def photo_with(field, who: str, seed: int, *, gps, taken) -> str:
    data = images.jpeg(320, 240, seed=seed, gps=gps, taken=taken)
    return field.photos.verified(field.as_user(who), data)["id"]


def north_of_b1(metres: float) -> tuple[float, float]:
    return B1_SITE[0] + metres / METRES_PER_DEGREE_LAT, B1_SITE[1]


def rejected_photo(field, who: str) -> str:
    """A photo whose bytes changed on the way: completing it rejects it."""
    good = small_jpeg(777)
    middle = len(good) // 2
    bad = good[:middle] + bytes([good[middle] ^ 0x55]) + good[middle + 1 :]
    photo_id = field.photos.upload(field.as_user(who), bad, declared_sha256=sha256(good))
    response = field.complete(who, photo_id)
    assert_problem(response, 422, "validation-failed")
    return photo_id


def return_it(field, submission_id: str, reason="Retake the photos, please"):
    response = field.decide("gw1", submission_id, "return", reason=reason)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["stage"] == "returned"


# ---------------------------------------------------------------- creating a draft


def test_a_draft_is_created_against_the_current_template_of_the_buildings_use_type(field):
    stair = {
        "code": "STAIR-01",
        "label": {"zh": "楼梯间无杂物", "en": "Stairwells free of clutter"},
        "category": "evacuation",
        "severity": "major",
        "photo_required": False,
    }
    v2 = new_residential_version(field, stair)
    assert v2["version"] == 2
    body = draft(field, items=[entry(field, "mgr1", "STAIR-01"), entry(field, "mgr1", "EXT-01")])

    response = field.create("mgr1", body)

    assert response.status_code == 201, response.get_json()
    assert response.headers["ETag"]
    got = response.get_json()
    assert got["id"] == body["id"]
    assert got["status"] == "draft"
    assert (got["template_id"], got["template_version"]) == (v2["id"], 2)
    assert got["inspector_id"] == str(field.world.users["mgr1"])
    assert got["building_id"] == body["building_id"]
    assert got["kind"] == "self_check"
    assert when(got["performed_at"]) == when(body["performed_at"])
    assert got["location"] == body["location"]
    assert [(i["code"], i["result"]) for i in got["items"]] == [
        ("STAIR-01", "pass"),
        ("EXT-01", "pass"),
    ]
    assert got["items"][1]["photo_ids"] == body["items"][1]["photo_ids"]
    assert (got["submission_id"], got["stage"], got["waiting_for"]) == (None, None, [])
    assert (got["failed"], got["hazard_ids"], got["submitted_at"]) == ([], [], None)
    again = read(field, "mgr1", body["id"])
    assert again.headers["ETag"] == response.headers["ETag"]
    assert again.get_json()["template_id"] == v2["id"]


def test_without_a_newer_version_the_default_checklist_is_used(field):
    [default] = templates(field, "residential")

    got = created(field, "mgr1", draft(field, items=[entry(field, "mgr1", "HYD-01")]))

    assert (got["template_id"], got["template_version"]) == (default["id"], 1)
    assert [i["code"] for i in default["items"]] == [i["code"] for i in DEFAULT_ITEMS]


def test_an_older_version_named_explicitly_is_kept(field):
    v1 = next(t for t in templates(field, "residential") if t["version"] == 1)
    new_residential_version(field)
    # EXT-01 is on both versions; ALARM-01 only on version 1.
    body = draft(field, template_id=v1["id"], items=[entry(field, "mgr1", "ALARM-01")])

    got = created(field, "mgr1", body)

    assert (got["template_id"], got["template_version"]) == (v1["id"], 1)


def test_a_template_of_another_use_type_is_refused(field, db):
    commercial = templates(field, "commercial")[0]

    response = field.create("mgr1", draft(field, template_id=commercial["id"]))

    assert_problem(response, 422, "validation-failed", pointer="/template_id")
    assert rows(db, Inspection) == 0


def test_an_unknown_template_is_refused(field, db):
    response = field.create("mgr1", draft(field, template_id=str(uuid.uuid4())))

    assert_problem(response, 422, "validation-failed", pointer="/template_id")
    assert rows(db, Inspection) == 0


def test_a_code_not_on_the_checklist_is_refused(field, db):
    body = draft(field, items=[{"code": "ZZZ-99", "result": "pass"}])

    response = field.create("mgr1", body)

    assert_problem(response, 422, "validation-failed", pointer="/items/0/code")
    assert rows(db, Inspection) == rows(db, InspectionResult) == 0


def test_a_code_listed_twice_is_refused(field, db):
    items = [{"code": "ALARM-01", "result": "pass"}, {"code": "ALARM-01", "result": "fail"}]

    response = field.create("mgr1", draft(field, items=items))

    assert_problem(response, 422, "validation-failed", pointer="/items/1/code")
    assert rows(db, Inspection) == 0


def test_a_time_in_the_future_is_refused(field, db):
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    response = field.create("mgr1", draft(field, performed_at=future))

    assert_problem(response, 422, "validation-failed", pointer="/performed_at")
    assert rows(db, Inspection) == 0


def test_a_time_a_little_ahead_is_clock_skew_and_accepted(field):
    body = draft(field, performed_at=(datetime.now(UTC) + timedelta(minutes=2)).isoformat())

    assert created(field, "mgr1", body)["status"] == "draft"


def test_a_time_without_an_offset_is_refused(field, db):
    naive = ago(minutes=5).replace(tzinfo=None).isoformat()

    response = field.create("mgr1", draft(field, performed_at=naive))

    assert_problem(response, 422, "validation-failed", pointer="/performed_at")
    assert rows(db, Inspection) == 0


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"location": {"lat": "22.528", "lon": 114.063}}, "/location/lat"),
        ({"location": {"lat": 122.0, "lon": 114.063}}, "/location/lat"),
        ({"items": {"code": "ALARM-01", "result": "pass"}}, "/items"),
        ({"items": [{"code": "ALARM-01", "result": "maybe"}]}, "/items/0/result"),
        ({"items": [{"code": "ALARM-01", "result": "pass", "photo_ids": "x"}]},
         "/items/0/photo_ids"),
        ({"kind": "audit"}, "/kind"),
        ({"building_id": "B1"}, "/building_id"),
        ({"id": 12}, "/id"),
        ({"performed_at": "yesterday"}, "/performed_at"),
        ({"colour": "red"}, "/colour"),
    ],
    ids=["string lat", "lat out of range", "items not a list", "result maybe",
         "photo ids not a list", "unknown kind", "building not an id", "id not a uuid",
         "time not a time", "unknown field"],
)  # fmt: skip
def test_a_badly_typed_body_is_refused_with_the_field_named(field, db, change, pointer):
    body = draft(field)
    body.update(change)

    response = field.create("mgr1", body)

    assert_problem(response, 422, "validation-failed", pointer=pointer)
    assert rows(db, Inspection) == 0


@pytest.mark.parametrize("missing", ["id", "building_id", "kind", "performed_at", "items"])
def test_a_required_field_left_out_is_named(field, db, missing):
    body = draft(field)
    del body[missing]

    response = field.create("mgr1", body)

    assert_problem(response, 422, "validation-failed", pointer=f"/{missing}")
    assert rows(db, Inspection) == 0


def test_malformed_json_is_a_bad_request(field, db):
    response = field.client.post(
        API,
        data='{"id": "' + str(uuid.uuid4()) + '", "items": [',
        content_type="application/json",
        headers=field.as_user("mgr1"),
    )

    assert_problem(response, 400, "malformed-request")
    assert rows(db, Inspection) == 0


@pytest.mark.parametrize(
    ("who", "code", "kind"),
    [
        ("mgr1", "B4", "self_check"),
        ("mgr1", "B2", "self_check"),
        ("officer1", "B4", "patrol"),
        ("gw1", "B2", "patrol"),
        ("gw1", "B4", "verification"),
        ("police1", "B4", "verification"),
    ],
)
def test_a_building_out_of_scope_is_refused_and_nothing_is_written(field, db, who, code, kind):
    events = rows(db, AuditEvent)

    response = field.create(who, draft(field, code, kind))

    assert_problem(response, 422, "validation-failed", pointer="/building_id")
    assert rows(db, Inspection) == 0
    assert rows(db, AuditEvent) == events


def test_an_unknown_building_is_refused(field, db):
    response = field.create("mgr1", draft(field, building_id=str(uuid.uuid4())))

    assert_problem(response, 422, "validation-failed", pointer="/building_id")
    assert rows(db, Inspection) == 0


@pytest.mark.parametrize(
    ("who", "kind"),
    [
        ("officer1", "self_check"),
        ("gw1", "self_check"),
        ("mgr1", "patrol"),
        ("office1", "patrol"),
        ("police1", "patrol"),
        ("officer1", "verification"),
        ("mgr1", "verification"),
    ],
)
def test_a_kind_the_role_does_not_do_is_forbidden(field, db, who, kind):
    response = field.create(who, draft(field, "B1", kind))

    assert_problem(response, 403, "forbidden")
    assert rows(db, Inspection) == 0


def test_admins_do_not_inspect(field, db):
    response = field.create("admin", draft(field, "B1", "verification"))

    assert_problem(response, 403, "forbidden")
    assert rows(db, Inspection) == 0


@pytest.mark.parametrize(
    ("who", "kind"),
    [
        ("mgr1", "self_check"),
        ("officer1", "patrol"),
        ("gw1", "patrol"),
        ("gw1", "verification"),
        ("office1", "verification"),
        ("police1", "verification"),
    ],
)
def test_a_kind_the_role_does_is_recorded(field, world, who, kind):
    got = created(field, who, draft(field, "B1", kind))

    assert (got["kind"], got["inspector_id"]) == (kind, str(world.users[who]))


def test_the_same_id_and_body_again_answers_the_stored_draft(field, db):
    body = draft(field, items=[entry(field, "mgr1", "EXT-01"), entry(field, "mgr1", "ALARM-01")])
    first = field.create("mgr1", body)
    assert first.status_code == 201

    again = field.create("mgr1", body)

    assert again.status_code == 200, again.get_json()
    assert again.get_json() == first.get_json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert rows(db, Inspection) == 1


def test_the_same_id_with_other_content_is_a_conflict(field, db):
    body = draft(field, items=[entry(field, "mgr1", "ALARM-01")], note="all fine")
    first = field.create("mgr1", body)
    assert first.status_code == 201

    response = field.create("mgr1", {**body, "note": "something else"})

    assert_problem(response, 409, "conflict", pointer="/id")
    assert read(field, "mgr1", body["id"]).get_json()["note"] == "all fine"
    assert etag_of(field, body["id"]) == first.headers["ETag"]
    assert rows(db, Inspection) == 1


def test_an_id_used_out_of_your_scope_is_a_conflict(field, db):
    body = draft(field, "B2", "patrol")
    created(field, "officer1", body)

    response = field.create("mgr1", {**body, "building_id": str(field.world.buildings["B1"]),
                                     "kind": "self_check"})  # fmt: skip

    assert_problem(response, 409, "conflict")
    assert rows(db, Inspection) == 1
    assert shown(field, "officer1", body["id"])["kind"] == "patrol"


def test_a_photo_you_cannot_see_is_refused_by_its_place(field, db):
    others = field.photo("gw1")  # uploaded by gw1, attached nowhere: only gw1 sees it
    items = [
        entry(field, "mgr1", "ALARM-01"),
        {"code": "EXT-01", "result": "pass", "photo_ids": [field.photo("mgr1"), others]},
    ]

    response = field.create("mgr1", draft(field, items=items))

    assert_problem(response, 422, "validation-failed", pointer="/items/1/photo_ids/1")
    assert rows(db, Inspection) == 0


def test_an_unknown_photo_is_refused(field, db):
    items = [{"code": "EXT-01", "result": "pass", "photo_ids": [str(uuid.uuid4())]}]

    response = field.create("mgr1", draft(field, items=items))

    assert_problem(response, 422, "validation-failed", pointer="/items/0/photo_ids/0")
    assert rows(db, Inspection) == 0


def test_a_rejected_photo_is_refused(field, db):
    bad = rejected_photo(field, "mgr1")
    items = [entry(field, "mgr1", "ALARM-01"), {"code": "EXT-01", "result": "fail",
                                                 "photo_ids": [bad]}]  # fmt: skip

    response = field.create("mgr1", draft(field, items=items))

    assert_problem(response, 422, "validation-failed", pointer="/items/1/photo_ids/0")
    assert rows(db, Inspection) == 0


# ---------------------------------------------------------------- changing a draft


def test_a_draft_is_changed_with_if_match(field):
    body = draft(field, items=[entry(field, "mgr1", "ALARM-01")])
    first = field.create("mgr1", body)
    new_items = [entry(field, "mgr1", "ALARM-01", "fail", note="no battery"),
                 entry(field, "mgr1", "EXT-01")]  # fmt: skip

    response = patch(
        field, "mgr1", body["id"], {"items": new_items, "note": "checked twice"},
        first.headers["ETag"],
    )  # fmt: skip

    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] != first.headers["ETag"]
    got = response.get_json()
    assert [(i["code"], i["result"], i["note"]) for i in got["items"]] == [
        ("ALARM-01", "fail", "no battery"),
        ("EXT-01", "pass", None),
    ]
    assert got["note"] == "checked twice"
    assert got["status"] == "draft"
    assert shown(field, "mgr1", body["id"]) == got
    assert etag_of(field, body["id"]) == response.headers["ETag"]


def test_a_change_without_if_match_is_refused(field):
    body = draft(field, items=[entry(field, "mgr1", "ALARM-01")])
    first = field.create("mgr1", body)

    response = patch(field, "mgr1", body["id"], {"note": "changed"})

    assert_problem(response, 428, "precondition-required")
    assert etag_of(field, body["id"]) == first.headers["ETag"]
    assert shown(field, "mgr1", body["id"])["note"] is None


def test_a_change_on_a_stale_etag_is_refused(field):
    body = draft(field)
    first = field.create("mgr1", body)
    second = patch(field, "mgr1", body["id"], {"note": "one"}, first.headers["ETag"])
    assert second.status_code == 200

    response = patch(field, "mgr1", body["id"], {"note": "two"}, first.headers["ETag"])

    assert_problem(response, 412, "precondition-failed")
    assert etag_of(field, body["id"]) == second.headers["ETag"]
    assert shown(field, "mgr1", body["id"])["note"] == "one"


def test_another_user_in_scope_cannot_change_it(field):
    body = draft(field)
    etag = field.create("mgr1", body).headers["ETag"]
    assert read(field, "gw1", body["id"]).status_code == 200  # gw1 sees it

    response = patch(field, "gw1", body["id"], {"note": "mine now"}, etag)

    assert_problem(response, 403, "forbidden")
    assert etag_of(field, body["id"]) == etag


def test_someone_out_of_scope_does_not_find_it(field):
    body = draft(field, "B2", "patrol")
    etag = field.create("officer1", body).headers["ETag"]

    assert_problem(read(field, "gw1", body["id"]), 404, "not-found")
    response = patch(field, "gw1", body["id"], {"note": "x"}, etag)

    assert_problem(response, 404, "not-found")
    assert etag_of(field, body["id"], "officer1") == etag


def test_a_change_that_names_an_unknown_code_changes_nothing(field):
    body = draft(field, items=[entry(field, "mgr1", "ALARM-01")])
    etag = field.create("mgr1", body).headers["ETag"]

    response = patch(
        field, "mgr1", body["id"], {"items": [{"code": "NOPE-01", "result": "pass"}]}, etag
    )

    assert_problem(response, 422, "validation-failed", pointer="/items/0/code")
    assert etag_of(field, body["id"]) == etag
    assert [i["code"] for i in shown(field, "mgr1", body["id"])["items"]] == ["ALARM-01"]


def test_an_inspection_in_review_cannot_change(field):
    answer = field.submitted("mgr1")
    etag = etag_of(field, answer["id"])

    response = patch(field, "mgr1", answer["id"], {"note": "too late"}, etag)

    assert_problem(response, 409, "conflict")
    assert etag_of(field, answer["id"]) == etag
    assert shown(field, "mgr1", answer["id"])["note"] is None


def test_a_closed_inspection_cannot_change(field):
    answer = field.submitted("mgr1")
    field.approve_all(answer["submission_id"])
    etag = etag_of(field, answer["id"])

    response = patch(field, "mgr1", answer["id"], {"note": "too late"}, etag)

    assert_problem(response, 409, "conflict")
    assert etag_of(field, answer["id"]) == etag


def test_a_returned_inspection_is_changed_and_resubmitted(field, db):
    answer = field.submitted("mgr1")
    sid = answer["submission_id"]
    return_it(field, sid)
    etag = etag_of(field, answer["id"])

    response = patch(field, "mgr1", answer["id"], {"note": "photos retaken"}, etag)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["note"] == "photos retaken"
    assert response.get_json()["stage"] == "returned"
    again = field.submit("mgr1", answer["id"])
    assert again.status_code == 200, again.get_json()
    assert (again.get_json()["submission_id"], again.get_json()["stage"]) == (sid, "grid_review")
    history = field.submission("gw1", sid).get_json()["history"]
    assert [h["decision"] for h in history] == ["submit", "return", "resubmit"]
    assert rows(db, Submission) == 1


# ---------------------------------------------------------------- submitting


def test_an_item_that_needs_a_photo_cannot_be_submitted_without_one(field, db):
    items = [
        entry(field, "mgr1", "ALARM-01"),
        {"code": "EXT-01", "result": "fail", "note": "empty"},
    ]
    body = draft(field, items=items)
    etag = field.create("mgr1", body).headers["ETag"]

    response = field.submit("mgr1", body["id"])

    assert_problem(response, 422, "validation-failed", pointer="/items/1/photo_ids")
    got = shown(field, "mgr1", body["id"])
    assert (got["status"], got["submission_id"], got["hazard_ids"]) == ("draft", None, [])
    assert etag_of(field, body["id"]) == etag
    assert rows(db, Submission) == rows(db, Hazard) == 0


def test_a_not_applicable_item_needs_no_photo(field):
    body = draft(field, items=[{"code": "GAS-01", "result": "na"}])
    created(field, "mgr1", body)

    response = field.submit("mgr1", body["id"])

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "submitted"


def test_only_the_inspector_submits(field, db):
    body = draft(field, kind="patrol", items=[entry(field, "gw1", "ALARM-01")])
    etag = field.create("gw1", body).headers["ETag"]
    assert read(field, "officer1", body["id"]).status_code == 200  # in officer1's scope

    response = field.submit("officer1", body["id"])

    assert_problem(response, 403, "forbidden")
    assert shown(field, "gw1", body["id"])["status"] == "draft"
    assert etag_of(field, body["id"], "gw1") == etag
    assert rows(db, Submission) == 0


def test_submitting_twice_answers_the_same_submission(field, db):
    body = draft(field, items=[entry(field, "mgr1", "EBIKE-01", "fail", note="bikes")])
    created(field, "mgr1", body)
    first = field.submit("mgr1", body["id"])
    assert first.status_code == 200, first.get_json()
    hazards = rows(db, Hazard)
    assert hazards == 1

    second = field.submit("mgr1", body["id"])

    assert second.status_code == 200, second.get_json()
    assert second.get_json()["submission_id"] == first.get_json()["submission_id"]
    assert second.get_json()["hazard_ids"] == first.get_json()["hazard_ids"]
    assert second.headers["ETag"] == first.headers["ETag"]
    assert rows(db, Submission) == 1
    assert rows(db, Hazard) == hazards
    history = field.submission("gw1", first.get_json()["submission_id"]).get_json()["history"]
    assert [h["decision"] for h in history] == ["submit"]


def test_submitting_again_after_a_decision_changes_nothing(field, db):
    body = draft(field, items=[entry(field, "mgr1", "LIGHT-01", "fail")])
    created(field, "mgr1", body)
    sid = field.submit("mgr1", body["id"]).get_json()["submission_id"]
    assert field.decide("gw1", sid, "approve").status_code == 200

    again = field.submit("mgr1", body["id"])

    assert again.status_code == 200, again.get_json()
    assert (again.get_json()["submission_id"], again.get_json()["stage"]) == (
        sid,
        "office_review",
    )
    history = field.submission("gw1", sid).get_json()["history"]
    assert [h["decision"] for h in history] == ["submit", "approve"]


def test_items_not_listed_count_as_not_checked(field):
    body = draft(field, items=[entry(field, "mgr1", "ALARM-01")])
    created(field, "mgr1", body)

    response = field.submit("mgr1", body["id"])

    assert response.status_code == 200, response.get_json()
    got = response.get_json()
    assert (got["status"], got["stage"], got["failed"]) == ("submitted", "grid_review", [])
    assert [i["code"] for i in got["items"]] == ["ALARM-01"]
    assert got["submitted_at"] is not None


def test_an_inspection_with_no_results_submits(field):
    body = draft(field)
    created(field, "mgr1", body)

    response = field.submit("mgr1", body["id"])

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["items"] == []


def test_failed_items_become_hazards_with_the_templates_severity_and_deadline(field, db):
    failed = ("EBIKE-01", "EXT-01", "LIGHT-01")
    items = [entry(field, "mgr1", code, "fail", note=f"{code} bad") for code in failed]
    items.append(entry(field, "mgr1", "ALARM-01"))
    body = draft(field, items=items)
    created(field, "mgr1", body)
    before = datetime.now(UTC)

    response = field.submit("mgr1", body["id"])

    after = datetime.now(UTC)
    assert response.status_code == 200, response.get_json()
    got = response.get_json()
    assert sorted(got["failed"]) == sorted(failed)
    assert len(got["hazard_ids"]) == 3
    submitted_at = when(got["submitted_at"])
    assert before - SLACK <= submitted_at <= after + SLACK
    hazards = {h["item_code"]: h for h in (field.hazard("mgr1", i) for i in got["hazard_ids"])}
    assert set(hazards) == set(failed)
    by_code = {item["code"]: item for item in DEFAULT_ITEMS}
    for code, hazard in hazards.items():
        severity = SEVERITY[code]
        assert hazard["severity"] == severity
        assert hazard["category"] == by_code[code]["category"]
        assert hazard["status"] == "open"
        assert hazard["overdue"] is False
        assert hazard["closed_at"] is None
        assert (hazard["source"], hazard["inspection_id"]) == ("inspection", body["id"])
        assert hazard["building_id"] == body["building_id"]
        assert hazard["reported_by"] == str(field.world.users["mgr1"])
        assert f"{code} bad" in hazard["description"]
        due = when(hazard["due_at"])
        assert abs(due - (submitted_at + DEADLINE[severity])) <= SLACK, (code, due)
    assert hazards["EXT-01"]["photo_ids"] == next(
        i["photo_ids"] for i in body["items"] if i["code"] == "EXT-01"
    )
    assert rows(db, Hazard) == 3
    # Something critical goes the whole way.
    assert field.submission("gw1", got["submission_id"]).get_json()["route"] == FULL_ROUTE


def test_a_resubmission_withdraws_what_now_passes_and_adds_what_now_fails(field, db):
    body = draft(
        field,
        items=[entry(field, "mgr1", "EBIKE-01", "fail"), entry(field, "mgr1", "LIGHT-01", "fail")],
    )
    created(field, "mgr1", body)
    first = field.submit("mgr1", body["id"]).get_json()
    old = {h["item_code"]: h for h in (field.hazard("mgr1", i) for i in first["hazard_ids"])}
    assert building(field, "mgr1", "B1")["risk_level"] == "critical"
    return_it(field, first["submission_id"], reason="The e-bikes were gone when I came")
    etag = etag_of(field, body["id"])
    changed = patch(
        field,
        "mgr1",
        body["id"],
        {
            "items": [
                entry(field, "mgr1", "EBIKE-01", "pass"),
                {"code": "LIGHT-01", "result": "fail"},
                {"code": "ALARM-01", "result": "fail", "note": "no battery"},
            ]
        },
        etag,
    )
    assert changed.status_code == 200, changed.get_json()

    response = field.submit("mgr1", body["id"])

    assert response.status_code == 200, response.get_json()
    got = response.get_json()
    assert got["submission_id"] == first["submission_id"]
    assert sorted(got["failed"]) == ["ALARM-01", "LIGHT-01"]
    withdrawn = field.hazard("mgr1", old["EBIKE-01"]["id"])
    assert withdrawn["status"] == "withdrawn"
    assert withdrawn["overdue"] is False
    kept = field.hazard("mgr1", old["LIGHT-01"]["id"])
    assert kept["status"] == "open"
    assert kept["due_at"] == old["LIGHT-01"]["due_at"]
    hazards = {h["item_code"]: h for h in (field.hazard("mgr1", i) for i in got["hazard_ids"])}
    added = hazards["ALARM-01"]
    assert added["id"] not in {h["id"] for h in old.values()}
    assert (added["status"], added["severity"]) == ("open", SEVERITY["ALARM-01"])
    assert abs(when(added["due_at"]) - (when(got["submitted_at"]) + DEADLINE["major"])) <= SLACK
    assert rows(db, Hazard) == 3
    listed = field.client.get(
        "/api/v1/hazards",
        query_string={"building_id": body["building_id"], "status": "open"},
        headers=field.as_user("gw1"),
    ).get_json()["items"]
    assert sorted(h["item_code"] for h in listed) == ["ALARM-01", "LIGHT-01"]
    # The critical one is withdrawn: the worst live hazard is major now.
    assert building(field, "mgr1", "B1")["risk_level"] == "high"


def test_photos_are_judged_when_the_inspection_is_submitted(field):
    recent = ago(hours=1)
    far = photo_with(field, "mgr1", 501, gps=north_of_b1(1000), taken=recent)
    near = photo_with(field, "mgr1", 502, gps=north_of_b1(50), taken=recent)
    old = photo_with(field, "mgr1", 503, gps=B1_SITE, taken=ago(hours=100))
    bare = field.photo("mgr1")  # no EXIF at all
    items = [
        {"code": "EXT-01", "result": "pass", "photo_ids": [far, near]},
        {"code": "DOOR-01", "result": "pass", "photo_ids": [old]},
        {"code": "ELEC-01", "result": "pass", "photo_ids": [bare]},
    ]
    body = draft(field, items=items)
    assert all(i["photo_flags"] == {} for i in created(field, "mgr1", body)["items"])

    response = field.submit("mgr1", body["id"])

    assert response.status_code == 200, response.get_json()
    flags = {}
    for item in shown(field, "mgr1", body["id"])["items"]:
        flags.update(item["photo_flags"])
    assert flags[far] == ["far_from_building"]
    assert flags[near] == []
    assert flags[old] == ["stale"]
    assert sorted(flags[bare]) == ["no_capture_time", "no_location"]
    # The reviewers see the same flags on the photo itself.
    photo = field.client.get(f"/api/v1/photos/{far}", headers=field.as_user("gw1")).get_json()
    assert photo["flags"] == ["far_from_building"]


def test_a_photo_used_on_an_earlier_inspection_is_flagged_reused(field):
    recent = ago(hours=1)
    photo = photo_with(field, "mgr1", 504, gps=B1_SITE, taken=recent)
    first = draft(field, items=[{"code": "EXT-01", "result": "pass", "photo_ids": [photo]}])
    created(field, "mgr1", first)
    assert field.submit("mgr1", first["id"]).status_code == 200
    second = draft(field, items=[{"code": "EXT-01", "result": "pass", "photo_ids": [photo]}])
    created(field, "mgr1", second)

    assert field.submit("mgr1", second["id"]).status_code == 200

    assert shown(field, "mgr1", first["id"])["items"][0]["photo_flags"] == {photo: []}
    assert shown(field, "mgr1", second["id"])["items"][0]["photo_flags"] == {photo: ["reused"]}


# ---------------------------------------------------------------- what a closed one does


def test_a_closed_self_check_moves_the_buildings_schedule_on(field, db):
    b1 = db.get(Building, field.world.buildings["B1"])
    b1.next_self_check_due_at = ago(days=3)  # the self-check is overdue
    db.commit()
    before = building(field, "mgr1", "B1")
    assert before["self_check"]["overdue"] is True
    interval = before["self_check"]["interval_days"]
    performed = ago(days=2)
    body = draft(field, items=[entry(field, "mgr1", "ALARM-01")],
                 performed_at=performed.isoformat())  # fmt: skip
    created(field, "mgr1", body)
    sid = field.submit("mgr1", body["id"]).get_json()["submission_id"]
    in_review = building(field, "mgr1", "B1")
    assert in_review["self_check"] == before["self_check"]
    assert in_review["last_inspected_at"] == before["last_inspected_at"]

    assert field.approve_all(sid)["stage"] == "closed"

    after = building(field, "mgr1", "B1")
    assert when(after["self_check"]["next_due_at"]) == performed + timedelta(days=interval)
    assert after["self_check"]["overdue"] is False
    assert when(after["last_inspected_at"]) == performed


def test_a_closed_patrol_counts_as_inspected_but_is_no_self_check(field):
    before = building(field, "gw1", "B1")
    performed = ago(hours=3)
    body = draft(field, kind="patrol", items=[entry(field, "officer1", "ALARM-01")],
                 performed_at=performed.isoformat())  # fmt: skip
    created(field, "officer1", body)
    sid = field.submit("officer1", body["id"]).get_json()["submission_id"]

    field.approve_all(sid)

    after = building(field, "gw1", "B1")
    assert when(after["last_inspected_at"]) == performed
    assert after["self_check"] == before["self_check"]


def test_a_returned_self_check_does_not_move_the_schedule(field):
    before = building(field, "mgr1", "B1")
    answer = field.submitted("mgr1")

    return_it(field, answer["submission_id"])

    after = building(field, "mgr1", "B1")
    assert after["self_check"] == before["self_check"]
    assert after["last_inspected_at"] == before["last_inspected_at"]


def test_risk_follows_a_critical_hazard_until_it_is_rectified(field):
    assert building(field, "gw1", "B1")["risk_level"] == "low"
    body = draft(field, items=[entry(field, "mgr1", "EBIKE-01", "fail")])
    created(field, "mgr1", body)
    answer = field.submit("mgr1", body["id"]).get_json()

    assert building(field, "gw1", "B1")["risk_level"] == "critical"

    [hazard_id] = answer["hazard_ids"]
    rect = field.rectify("mgr1", hazard_id)
    assert rect.status_code == 201, rect.get_json()
    assert building(field, "gw1", "B1")["risk_level"] == "critical"  # still being rectified
    field.approve_all(rect.get_json()["submission_id"])
    assert field.hazard("mgr1", hazard_id)["status"] == "closed"
    assert building(field, "gw1", "B1")["risk_level"] == "low"


# ---------------------------------------------------------------- reading


def test_an_unchanged_inspection_answers_304(field):
    body = draft(field)
    etag = field.create("mgr1", body).headers["ETag"]

    response = field.client.get(
        f"{API}/{body['id']}", headers={**field.as_user("mgr1"), "If-None-Match": etag}
    )

    assert response.status_code == 304
    assert response.headers["ETag"] == etag
    assert response.data == b""
    other = field.client.get(
        f"{API}/{body['id']}", headers={**field.as_user("mgr1"), "If-None-Match": '"other"'}
    )
    assert other.status_code == 200
    assert other.get_json()["id"] == body["id"]


def test_an_inspection_whose_review_moved_on_is_not_answered_304(field):
    """What the phone shows (the stage) changed, so the copy it holds is stale."""
    answer = field.submitted("mgr1")
    seen = read(field, "mgr1", answer["id"])
    assert seen.get_json()["stage"] == "grid_review"

    assert field.decide("gw1", answer["submission_id"], "approve").status_code == 200

    response = field.client.get(
        f"{API}/{answer['id']}",
        headers={**field.as_user("mgr1"), "If-None-Match": seen.headers["ETag"]},
    )
    assert response.status_code == 200
    assert response.get_json()["stage"] == "closed"
    assert response.headers["ETag"] != seen.headers["ETag"]


def test_an_unknown_inspection_is_not_found(field):
    assert_problem(read(field, "mgr1", str(uuid.uuid4())), 404, "not-found")


@pytest.fixture
def several(field):
    """Drafts in B1 by mgr1 (two at the same moment) and gw1, patrols in B2 by officer1,
    and one submitted self-check; name -> id."""
    same = ago(hours=2).isoformat()
    made: dict[str, str] = {}
    plans = [
        ("m1", "mgr1", "B1", "self_check", same),
        ("m2", "mgr1", "B1", "self_check", same),
        ("m3", "mgr1", "B1", "self_check", ago(hours=5).isoformat()),
        ("g1", "gw1", "B1", "patrol", ago(hours=1).isoformat()),
        ("g2", "gw1", "B1", "verification", ago(hours=7).isoformat()),
        ("o1", "officer1", "B2", "patrol", ago(hours=3).isoformat()),
        ("o2", "officer1", "B2", "patrol", same),
    ]
    for name, who, code, kind, at in plans:
        body = draft(field, code, kind, performed_at=at)
        created(field, who, body)
        made[name] = body["id"]
    assert field.submit("mgr1", made["m3"]).status_code == 200
    return made


def listed(field, who: str, **query) -> list[str]:
    response = field.client.get(API, query_string=query, headers=field.as_user(who))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["next_cursor"] is None
    return [i["id"] for i in response.get_json()["items"]]


def test_the_list_shows_only_what_is_in_scope(field, several):
    b1 = {several[n] for n in ("m1", "m2", "m3", "g1", "g2")}
    b2 = {several[n] for n in ("o1", "o2")}

    assert set(listed(field, "mgr1")) == b1
    assert set(listed(field, "gw1")) == b1
    assert set(listed(field, "officer1")) == b1 | b2
    assert set(listed(field, "office1")) == b1 | b2
    assert listed(field, "gw1", building_id=str(field.world.buildings["B2"])) == []


def test_the_list_is_newest_first(field, several):
    items = field.client.get(API, headers=field.as_user("officer1")).get_json()["items"]

    keys = [(when(i["performed_at"]), i["id"]) for i in items]
    assert keys == sorted(keys, reverse=True)


def test_the_list_filters(field, several):
    b2 = str(field.world.buildings["B2"])

    assert set(listed(field, "officer1", building_id=b2)) == {several["o1"], several["o2"]}
    assert listed(field, "officer1", status="submitted") == [several["m3"]]
    assert several["m3"] not in listed(field, "officer1", status="draft")
    assert len(listed(field, "officer1", status="draft")) == 6
    assert set(listed(field, "gw1", mine="true")) == {several["g1"], several["g2"]}
    assert set(listed(field, "officer1", mine="true")) == {several["o1"], several["o2"]}
    assert listed(field, "gw1", kind="verification") == [several["g2"]]
    assert set(listed(field, "mgr1", kind="self_check", status="draft")) == {
        several["m1"],
        several["m2"],
    }


def test_a_bad_filter_is_refused(field, several):
    response = field.client.get(API, query_string={"status": "lost"}, headers=field.as_user("gw1"))

    assert_problem(response, 422, "validation-failed", pointer="/status")


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_the_list_pages_without_duplicates_or_gaps(field, several, limit):
    everything = listed(field, "officer1")
    assert len(everything) == 7

    found = pages(field.client, field.as_user("officer1"), API, limit=limit)

    assert all(len(page) <= limit for page in found)
    ids = [item["id"] for page in found for item in page]
    assert ids == everything


def test_a_filtered_list_pages_too(field, several):
    found = pages(field.client, field.as_user("officer1"), API, limit=1, status="draft")

    ids = [item["id"] for page in found for item in page]
    assert len(ids) == len(set(ids)) == 6
    assert several["m3"] not in ids


def test_a_forged_cursor_is_refused(field, several):
    response = field.client.get(
        API, query_string={"cursor": "not-a-cursor"}, headers=field.as_user("gw1")
    )

    assert_problem(response, 400, "invalid-cursor")


# ---------------------------------------------------------------- routes and resubmission


def test_a_verification_that_found_nothing_is_closed_at_once(field):
    performed = ago(hours=1)
    body = draft(field, kind="verification", items=[entry(field, "police1", "ALARM-01")],
                 performed_at=performed.isoformat())  # fmt: skip
    created(field, "police1", body)

    response = field.submit("police1", body["id"])

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["stage"] == "closed"
    submission = field.submission("police1", response.get_json()["submission_id"]).get_json()
    assert (submission["route"], submission["closed_at"] is not None) == ([], True)
    assert [h["decision"] for h in submission["history"]] == ["submit"]
    assert when(building(field, "police1", "B1")["last_inspected_at"]) == performed


def test_a_verification_that_found_something_goes_the_whole_way(field):
    body = draft(field, kind="verification", items=[entry(field, "office1", "LIGHT-01", "fail")])
    created(field, "office1", body)

    response = field.submit("office1", body["id"])

    assert response.status_code == 200, response.get_json()
    got = response.get_json()
    assert got["stage"] == "grid_review"
    assert field.submission("office1", got["submission_id"]).get_json()["route"] == FULL_ROUTE
    [hazard_id] = got["hazard_ids"]
    assert field.hazard("office1", hazard_id)["severity"] == "minor"


def test_a_returned_inspection_is_resubmitted_through_the_submission_with_a_note(field):
    answer = field.submitted("mgr1")
    sid = answer["submission_id"]
    return_it(field, sid)

    refused = field.resubmit("mgr1", sid, {"photo_ids": [field.photo("mgr1")]})
    assert_problem(refused, 422, "validation-failed")
    assert field.submission("mgr1", sid).get_json()["stage"] == "returned"
    response = field.resubmit("mgr1", sid, {"note": "Extinguisher photographed again"})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["stage"] == "grid_review"
    got = shown(field, "mgr1", answer["id"])
    assert (got["note"], got["stage"]) == ("Extinguisher photographed again", "grid_review")


def test_a_reopened_self_check_is_changed_and_goes_the_whole_way(field):
    answer = field.submitted("mgr1")
    sid = answer["submission_id"]
    assert field.approve_all(sid)["route"] == ["grid_review"]
    reopened = field.decide("police1", sid, "reopen", reason="The photos are from last year")
    assert reopened.status_code == 200, reopened.get_json()
    assert reopened.get_json()["escalated"] is True
    etag = etag_of(field, answer["id"])

    changed = patch(field, "mgr1", answer["id"], {"note": "Photos taken today"}, etag)
    assert changed.status_code == 200, changed.get_json()
    response = field.submit("mgr1", answer["id"])

    assert response.status_code == 200, response.get_json()
    submission = field.submission("mgr1", sid).get_json()
    assert (submission["stage"], submission["route"]) == ("grid_review", FULL_ROUTE)
    assert [h["decision"] for h in submission["history"]] == [
        "submit", "approve", "reopen", "resubmit",
    ]  # fmt: skip


def test_a_hazard_withdrawn_by_its_inspection_is_not_revived_by_a_returned_rectification(field):
    """The item that raised the hazard passed on the resubmitted inspection, so the hazard is
    withdrawn; the rectification that had been returned to the manager cannot bring it back
    into review."""
    body = draft(field, items=[entry(field, "mgr1", "EBIKE-01", "fail")])
    created(field, "mgr1", body)
    inspection = field.submit("mgr1", body["id"]).get_json()
    [hazard_id] = inspection["hazard_ids"]
    rect = field.rectify("mgr1", hazard_id)
    assert rect.status_code == 201, rect.get_json()
    rect_sid = rect.get_json()["submission_id"]
    assert field.decide("gw1", rect_sid, "return", reason="Show the stairwell").status_code == 200
    return_it(field, inspection["submission_id"], reason="The bikes were not there")
    etag = etag_of(field, body["id"])
    passing = {"items": [entry(field, "mgr1", "EBIKE-01", "pass")]}
    assert patch(field, "mgr1", body["id"], passing, etag).status_code == 200
    assert field.submit("mgr1", body["id"]).status_code == 200
    assert field.hazard("mgr1", hazard_id)["status"] == "withdrawn"
    assert building(field, "mgr1", "B1")["risk_level"] == "low"

    response = field.resubmit("mgr1", rect_sid, {"note": "Bikes gone"})

    assert_problem(response, 409, "conflict")
    assert field.hazard("mgr1", hazard_id)["status"] == "withdrawn"
    assert field.submission("mgr1", rect_sid).get_json()["stage"] == "returned"
    assert building(field, "mgr1", "B1")["risk_level"] == "low"
