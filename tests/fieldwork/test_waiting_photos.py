"""Records submitted while their photos are still uploading: they wait (202, waiting_for),
and the last photo to be verified submits them, as if the phone had submitted then.

A photo refused on the way leaves its record waiting; submitting again names the photo.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from fieldapi.fieldwork.models import Hazard, PhotoWait, Rectification
from fieldapi.photos.models import Photo
from fieldapi.review.models import Submission
from tests.fieldwork.conftest import PHOTO_ITEMS, assert_problem
from tests.photos.conftest import sha256, small_jpeg
from tests.photos.test_jobs import run_gc

API = "/api/v1/inspections"
FULL_ROUTE = ["grid_review", "office_review", "police_review"]


def rows(db, model) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model))


def draft(field, items, building="B1", kind="self_check") -> dict:
    return {
        "id": str(uuid.uuid4()),
        "building_id": str(field.world.buildings[building]),
        "kind": kind,
        "performed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "location": {"lat": 22.528, "lon": 114.063},
        "items": items,
    }


def shown(field, who: str, inspection_id: str):
    response = field.client.get(f"{API}/{inspection_id}", headers=field.as_user(who))
    assert response.status_code == 200, response.get_json()
    return response


def reviews(field, who="gw1") -> list[dict]:
    return [i for i in field.inbox(who) if i["kind"] == "review"]


def bad_upload(field, who: str, seed: int) -> str:
    """A photo whose bytes arrived changed on the way (not yet completed)."""
    good = small_jpeg(seed)
    middle = len(good) // 2
    bad = good[:middle] + bytes([good[middle] ^ 0x55]) + good[middle + 1 :]
    return field.photos.upload(field.as_user(who), bad, declared_sha256=sha256(good))


def completed(field, who: str, photo_id: str) -> None:
    response = field.complete(who, photo_id)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "verified"


def waiting_inspection(field, db, pending: list[str], *, failed=("EBIKE-01",)) -> dict:
    """A self-check whose EXT-01 names the ``pending`` photos (and a verified one), submitted:
    the 202 answer."""
    items = [
        {"code": "EXT-01", "result": "pass", "photo_ids": [field.photo("mgr1"), *pending]},
        *[
            {"code": code, "result": "fail", "note": "found",
             **({"photo_ids": [field.photo("mgr1")]} if code in PHOTO_ITEMS else {})}
            for code in failed
        ],
    ]  # fmt: skip
    body = draft(field, items)
    assert field.create("mgr1", body).status_code == 201
    response = field.submit("mgr1", body["id"])
    assert response.status_code == 202, response.get_json()
    assert response.headers["ETag"]
    return response.get_json()


# ---------------------------------------------------------------- inspections


def test_an_inspection_with_a_photo_still_uploading_waits(field, db):
    pending = field.unfinished_photo("mgr1")

    got = waiting_inspection(field, db, [pending])

    assert got["status"] == "waiting_photos"
    assert got["waiting_for"] == [pending]
    assert (got["submission_id"], got["stage"], got["submitted_at"]) == (None, None, None)
    assert got["hazard_ids"] == []
    assert rows(db, Submission) == rows(db, Hazard) == 0
    assert reviews(field) == []
    again = shown(field, "mgr1", got["id"]).get_json()
    assert (again["status"], again["waiting_for"]) == ("waiting_photos", [pending])


def test_completing_the_photo_submits_the_waiting_inspection(field, db):
    pending = field.unfinished_photo("mgr1")
    got = waiting_inspection(field, db, [pending])
    etag = shown(field, "mgr1", got["id"]).headers["ETag"]

    completed(field, "mgr1", pending)

    response = shown(field, "mgr1", got["id"])
    assert response.headers["ETag"] != etag
    after = response.get_json()
    assert (after["status"], after["stage"], after["waiting_for"]) == (
        "submitted",
        "grid_review",
        [],
    )
    assert after["submission_id"] is not None
    assert after["submitted_at"] is not None
    assert [i["submission_id"] for i in reviews(field)] == [after["submission_id"]]
    submission = field.submission("gw1", after["submission_id"]).get_json()
    assert submission["submitter_id"] == str(field.world.users["mgr1"])
    assert submission["route"] == FULL_ROUTE  # EBIKE-01 failed: critical
    assert [h["decision"] for h in submission["history"]] == ["submit"]
    # The failed item became a hazard only now, and the photo was judged.
    [hazard_id] = after["hazard_ids"]
    assert field.hazard("mgr1", hazard_id)["status"] == "open"
    assert pending in after["items"][0]["photo_flags"]
    assert rows(db, PhotoWait) == 0
    # Submitting again answers the same submission.
    again = field.submit("mgr1", got["id"])
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["submission_id"] == after["submission_id"]
    assert rows(db, Submission) == 1


def test_the_last_of_two_photos_submits_it(field, db):
    first, second = field.unfinished_photo("mgr1"), field.unfinished_photo("mgr1")
    got = waiting_inspection(field, db, [first, second], failed=())
    assert sorted(got["waiting_for"]) == sorted([first, second])

    completed(field, "mgr1", first)

    middle = shown(field, "mgr1", got["id"]).get_json()
    assert (middle["status"], middle["waiting_for"]) == ("waiting_photos", [second])
    assert middle["submission_id"] is None
    assert reviews(field) == []

    completed(field, "mgr1", second)

    after = shown(field, "mgr1", got["id"]).get_json()
    assert (after["status"], after["stage"], after["waiting_for"]) == (
        "submitted",
        "grid_review",
        [],
    )
    assert [i["submission_id"] for i in reviews(field)] == [after["submission_id"]]
    assert field.submission("gw1", after["submission_id"]).get_json()["route"] == ["grid_review"]


def test_submitting_again_while_waiting_still_waits(field, db):
    pending = field.unfinished_photo("mgr1")
    got = waiting_inspection(field, db, [pending])

    again = field.submit("mgr1", got["id"])

    assert again.status_code == 202, again.get_json()
    assert again.get_json()["waiting_for"] == [pending]
    assert rows(db, PhotoWait) == 1
    assert rows(db, Submission) == 0
    completed(field, "mgr1", pending)
    assert shown(field, "mgr1", got["id"]).get_json()["status"] == "submitted"
    assert rows(db, Submission) == 1


def test_a_waiting_photo_that_is_refused_leaves_it_waiting_and_is_named(field, db):
    bad = bad_upload(field, "mgr1", 901)
    got = waiting_inspection(field, db, [bad])

    refused = field.complete("mgr1", bad)

    assert_problem(refused, 422, "validation-failed")
    after = shown(field, "mgr1", got["id"]).get_json()
    assert (after["status"], after["submission_id"]) == ("waiting_photos", None)
    assert bad in after["waiting_for"]
    assert rows(db, Submission) == rows(db, Hazard) == 0
    etag = shown(field, "mgr1", got["id"]).headers["ETag"]

    response = field.submit("mgr1", got["id"])

    # EXT-01 is item 0; the refused photo is its second.
    assert_problem(response, 422, "validation-failed", pointer="/items/0/photo_ids/1")
    assert shown(field, "mgr1", got["id"]).headers["ETag"] == etag
    assert rows(db, Submission) == rows(db, Hazard) == 0


def test_a_refused_photo_is_replaced_and_the_inspection_submitted(field, db):
    bad = bad_upload(field, "mgr1", 902)
    got = waiting_inspection(field, db, [bad], failed=())
    assert_problem(field.complete("mgr1", bad), 422, "validation-failed")
    etag = shown(field, "mgr1", got["id"]).headers["ETag"]
    items = [{"code": "EXT-01", "result": "pass", "photo_ids": [field.photo("mgr1")]}]

    changed = field.client.patch(
        f"{API}/{got['id']}", json={"items": items},
        headers={**field.as_user("mgr1"), "If-Match": etag},
    )  # fmt: skip

    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["status"], changed.get_json()["waiting_for"]) == ("draft", [])
    response = field.submit("mgr1", got["id"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["stage"] == "grid_review"


def test_changing_a_waiting_inspection_makes_it_a_draft_again(field, db):
    pending = field.unfinished_photo("mgr1")
    got = waiting_inspection(field, db, [pending])
    etag = shown(field, "mgr1", got["id"]).headers["ETag"]

    response = field.client.patch(
        f"{API}/{got['id']}", json={"note": "one more look"},
        headers={**field.as_user("mgr1"), "If-Match": etag},
    )  # fmt: skip

    assert response.status_code == 200, response.get_json()
    after = response.get_json()
    assert (after["status"], after["waiting_for"], after["note"]) == ("draft", [], "one more look")
    assert rows(db, PhotoWait) == 0
    # The photo arriving now submits nothing: the inspector submits the changed draft.
    completed(field, "mgr1", pending)
    assert shown(field, "mgr1", got["id"]).get_json()["status"] == "draft"
    assert rows(db, Submission) == 0
    submitted = field.submit("mgr1", got["id"])
    assert submitted.status_code == 200, submitted.get_json()
    assert submitted.get_json()["status"] == "submitted"


def test_a_returned_inspection_resubmitted_with_a_photo_uploading_waits(field, db):
    answer = field.submitted("mgr1")
    sid = answer["submission_id"]
    returned = field.decide("gw1", sid, "return", reason="EXT-01 photo is blurred")
    assert returned.status_code == 200
    etag = shown(field, "mgr1", answer["id"]).headers["ETag"]
    pending = field.unfinished_photo("mgr1")
    items = [{"code": "EXT-01", "result": "pass", "photo_ids": [pending]}]
    changed = field.client.patch(
        f"{API}/{answer['id']}", json={"items": items},
        headers={**field.as_user("mgr1"), "If-Match": etag},
    )  # fmt: skip
    assert changed.status_code == 200, changed.get_json()

    waiting = field.submit("mgr1", answer["id"])

    assert waiting.status_code == 202, waiting.get_json()
    assert (waiting.get_json()["status"], waiting.get_json()["waiting_for"]) == (
        "waiting_photos",
        [pending],
    )
    assert field.submission("gw1", sid).get_json()["stage"] == "returned"
    completed(field, "mgr1", pending)
    resubmitted = field.submission("gw1", sid).get_json()
    assert resubmitted["stage"] == "grid_review"
    assert [h["decision"] for h in resubmitted["history"]] == ["submit", "return", "resubmit"]


# ---------------------------------------------------------------- hazards and rectifications


def test_a_hazard_report_with_a_photo_uploading_waits(field, db):
    pending = field.unfinished_photo("officer1")
    response = field.report("officer1", "B1", "minor", photo_ids=[field.photo("officer1"), pending])
    assert response.status_code == 201, response.get_json()
    got = response.get_json()
    assert (got["status"], got["waiting_for"], got["submission_id"]) == (
        "waiting_photos",
        [pending],
        None,
    )
    assert rows(db, Submission) == 0
    assert reviews(field) == []

    completed(field, "officer1", pending)

    after = field.hazard("officer1", got["id"])
    assert (after["status"], after["stage"], after["waiting_for"]) == ("open", "grid_review", [])
    assert [i["submission_id"] for i in reviews(field)] == [after["submission_id"]]


def test_a_rectification_with_a_photo_uploading_waits_then_goes_into_review(field, db):
    hazard = field.report("gw1", "B1", "major").get_json()
    pending = field.unfinished_photo("mgr1")
    before = {i["submission_id"] for i in reviews(field)}

    response = field.rectify("mgr1", hazard["id"], photo_ids=[pending])

    assert response.status_code == 201, response.get_json()
    got = response.get_json()
    assert (got["status"], got["waiting_for"], got["submission_id"], got["stage"]) == (
        "waiting_photos",
        [pending],
        None,
        None,
    )
    assert field.hazard("mgr1", hazard["id"])["status"] == "open"
    assert rows(db, Submission) == 1  # the report's only
    # Another rectification may not start while this one waits.
    assert_problem(field.rectify("mgr1", hazard["id"]), 409, "conflict")
    assert rows(db, Rectification) == 1

    completed(field, "mgr1", pending)

    [shown_rect] = field.client.get(
        f"/api/v1/hazards/{hazard['id']}/rectifications", headers=field.as_user("mgr1")
    ).get_json()["items"]
    assert (shown_rect["status"], shown_rect["stage"], shown_rect["waiting_for"]) == (
        "submitted",
        "grid_review",
        [],
    )
    assert field.hazard("mgr1", hazard["id"])["status"] == "rectifying"
    new = {i["submission_id"] for i in reviews(field)} - before
    assert new == {shown_rect["submission_id"]}
    submission = field.submission("gw1", shown_rect["submission_id"]).get_json()
    assert submission["subject"] == {"type": "rectification", "id": got["id"]}
    assert submission["route"] == FULL_ROUTE


def test_a_returned_rectification_resubmitted_with_a_photo_uploading_waits(field, db):
    hazard = field.report("gw1", "B1", "minor").get_json()
    rect = field.rectify("mgr1", hazard["id"]).get_json()
    sid = rect["submission_id"]
    assert field.decide("gw1", sid, "return", reason="Show the socket").status_code == 200
    pending = field.unfinished_photo("mgr1")

    response = field.resubmit("mgr1", sid, {"note": "Socket removed", "photo_ids": [pending]})

    assert response.status_code == 202, response.get_json()
    assert response.get_json()["stage"] == "returned"
    assert field.hazard("mgr1", hazard["id"])["status"] == "open"
    completed(field, "mgr1", pending)
    after = field.submission("gw1", sid).get_json()
    assert after["stage"] == "grid_review"
    assert [h["decision"] for h in after["history"]] == ["submit", "return", "resubmit"]
    assert field.hazard("mgr1", hazard["id"])["status"] == "rectifying"
    [shown_rect] = field.client.get(
        f"/api/v1/hazards/{hazard['id']}/rectifications", headers=field.as_user("mgr1")
    ).get_json()["items"]
    assert (shown_rect["note"], shown_rect["photo_ids"]) == ("Socket removed", [pending])


def test_a_slot_that_expired_before_its_bytes_came_is_uploaded_again_and_still_awaited(
    field, db, app
):
    """The phone lost signal before sending the bytes; gc removed the expired slot. The record
    still waits for that photo id, and the photo uploaded again under it submits the record."""
    data = small_jpeg(4242)
    slot = field.photos.slot(field.as_user("mgr1"), data)
    assert slot.status_code == 201, slot.get_json()
    pending = slot.get_json()["id"]
    got = waiting_inspection(field, db, [pending])
    db.execute(
        update(Photo)
        .where(Photo.id == uuid.UUID(pending))
        .values(upload_expires_at=datetime.now(UTC) - timedelta(hours=1))
    )
    db.commit()

    assert run_gc(app)["expired upload slots removed"] == 1

    assert db.get(Photo, uuid.UUID(pending)) is None
    waiting = shown(field, "mgr1", got["id"]).get_json()
    assert (waiting["status"], waiting["waiting_for"]) == ("waiting_photos", [pending])
    field.photos.upload(field.as_user("mgr1"), data, photo_id=pending)
    completed(field, "mgr1", pending)
    after = shown(field, "mgr1", got["id"]).get_json()
    assert (after["status"], after["stage"], after["waiting_for"]) == (
        "submitted",
        "grid_review",
        [],
    )
    assert rows(db, PhotoWait) == 0
