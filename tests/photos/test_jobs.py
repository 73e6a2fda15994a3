"""``flask photos gc``: expired slots, unfinished verifications, objects nobody refers to."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.photos import images
from tests.photos.conftest import small_jpeg

LONG_AGO = timedelta(hours=2)


@pytest.fixture
def blobs(app):
    """The app's store, with nothing under photos/ left by earlier tests (the store outlives
    the tables, and gc would count those objects as orphans)."""
    store = app.extensions["fieldapi.blobs"]
    for key in list(store.iter_keys("photos/")):
        store.delete(key)
    yield store
    for key in list(store.iter_keys("gc-test/")):
        store.delete(key)


def run_gc(app) -> dict[str, int]:
    result = app.test_cli_runner().invoke(args=["photos", "gc"])
    assert result.exit_code == 0, result.output
    counts = {}
    for line in result.output.splitlines():
        found = re.fullmatch(r"(.+): (\d+)", line.strip())
        assert found, line
        counts[found[1]] = int(found[2])
    return counts


def age(db, photos, photo_id, *, status: str | None = None, by: timedelta = LONG_AGO) -> None:
    """Move a photo's upload deadline into the past (and set its status)."""
    row = photos.row(db, photo_id)
    row.upload_expires_at = datetime.now(UTC) - by
    if status is not None:
        row.status = status
    db.commit()


def test_gc_cleans_up_and_leaves_live_photos_alone(app, photos, as_user, db, blobs):
    headers = as_user("gw1")
    # An expired slot, half of whose bytes arrived.
    expired = photos.slot(headers, small_jpeg(50)).get_json()
    blobs.put(
        photos.keys(expired["id"])["original"], small_jpeg(50)[:500], content_type="image/jpeg"
    )
    age(db, photos, expired["id"])
    # A slot still open, whose bytes arrived but which is not completed yet.
    live = photos.upload(headers, small_jpeg(51))
    # A photo whose verification was cut off after its bytes were stored.
    stuck = photos.upload(headers, small_jpeg(52, gps=(22.528, 114.063)))
    age(db, photos, stuck, status="stored")
    # The same, with bytes that are no photo.
    stuck_bad = photos.upload(headers, images.not_an_image())
    age(db, photos, stuck_bad, status="stored")
    # A verified photo, and a rejected one whose objects were left behind.
    verified = photos.verified(headers, small_jpeg(53))
    rejected = photos.upload(headers, images.truncated(small_jpeg(54)))
    assert photos.complete(headers, rejected).status_code == 422
    blobs.put(photos.keys(rejected)["display"], b"leftover", content_type="image/jpeg")
    # Objects whose photo does not exist, and one outside photos/.
    nobody = uuid.uuid4()
    blobs.put(f"photos/{nobody}/original", b"orphan", content_type="image/jpeg")
    blobs.put(f"photos/{nobody}/thumbnail.jpg", b"orphan", content_type="image/jpeg")
    blobs.put("photos/not-a-photo", b"stray", content_type="text/plain")
    blobs.put("gc-test/keep", b"not ours", content_type="text/plain")

    counts = run_gc(app)

    assert counts == {
        "expired upload slots removed": 1,
        "expired upload slots kept, all bytes arrived": 0,
        "unfinished photos verified": 1,
        "unfinished photos rejected": 1,
        "unfinished photos that failed (kept for the next run)": 0,
        "unreferenced objects deleted": 4,
    }
    assert photos.row(db, expired["id"]) is None
    assert photos.stored(expired["id"])["original"] is False
    finished = photos.get(headers, stuck).get_json()
    assert finished["status"] == "verified"
    assert (finished["width"], finished["height"]) == (160, 120)
    assert finished["location"] is not None
    assert photos.stored(stuck) == {"original": True, "display": True, "thumbnail": True}
    assert photos.row(db, stuck_bad).status == "rejected"
    assert photos.row(db, stuck_bad).rejection_reason == "not-an-image"
    assert not any(photos.stored(stuck_bad).values())
    assert not any(photos.stored(rejected).values())
    assert not any(photos.stored(nobody).values())
    assert blobs.head("photos/not-a-photo") is None
    assert blobs.head("gc-test/keep") is not None
    # Untouched: the open slot with its bytes, and the verified photo with its derivatives.
    assert photos.row(db, live).status == "pending"
    assert photos.stored(live)["original"] is True
    assert photos.complete(headers, live).get_json()["status"] == "verified"
    assert photos.row(db, verified["id"]).status == "verified"
    assert all(photos.stored(verified["id"]).values())
    assert photos.fetch(verified["display_url"]).status == 200


def test_gc_with_nothing_to_do_changes_nothing(app, photos, as_user, db, blobs):
    headers = as_user("gw1")
    verified = photos.verified(headers, small_jpeg(55))
    pending = photos.slot(headers, small_jpeg(56)).get_json()
    keys = set(blobs.iter_keys("photos/"))

    counts = run_gc(app)

    assert set(counts.values()) == {0}
    assert set(blobs.iter_keys("photos/")) == keys
    assert photos.row(db, verified["id"]).status == "verified"
    assert photos.row(db, pending["id"]).status == "pending"


def test_a_photo_only_just_stuck_is_left_to_its_request(app, photos, as_user, db, blobs):
    # Stored a moment ago: its own request may still be verifying it.
    headers = as_user("gw1")
    photo_id = photos.upload(headers, small_jpeg(57))
    age(db, photos, photo_id, status="stored", by=timedelta(minutes=1))

    counts = run_gc(app)

    assert counts["unfinished photos verified"] == 0
    assert photos.row(db, photo_id).status == "stored"
    assert photos.stored(photo_id)["original"] is True
    assert photos.complete(headers, photo_id).get_json()["status"] == "verified"


def test_an_expired_slot_whose_bytes_all_arrived_is_kept_and_verified(
    app, photos, as_user, db, blobs
):
    """A phone that uploaded everything but lost signal before completing loses nothing."""
    headers = as_user("gw1")
    photo_id = photos.upload(headers, small_jpeg(58))
    age(db, photos, photo_id)

    counts = run_gc(app)

    assert counts["expired upload slots removed"] == 0
    assert counts["expired upload slots kept, all bytes arrived"] == 1
    assert counts["unfinished photos verified"] == 1
    db.expire_all()
    assert photos.row(db, photo_id).status == "verified"
    assert photos.stored(photo_id)["original"] is True
    # The phone's late complete answers the verified photo.
    late = photos.complete(headers, photo_id)
    assert late.status_code == 200
    assert late.get_json()["status"] == "verified"


def test_an_expired_slot_with_part_of_its_bytes_is_removed(app, photos, as_user, db, blobs):
    headers = as_user("gw1")
    data = small_jpeg(59)
    response = photos.slot(headers, data)
    assert response.status_code == 201
    photo_id = response.get_json()["id"]
    blobs.put(f"photos/{photo_id}/original", data[: len(data) // 2], content_type="image/jpeg")
    age(db, photos, photo_id)

    counts = run_gc(app)

    assert counts["expired upload slots removed"] == 1
    assert photos.row(db, photo_id) is None
    assert photos.stored(photo_id)["original"] is False
    # The phone can start again with the same id.
    assert photos.slot(headers, data, photo_id=photo_id).status_code == 201
