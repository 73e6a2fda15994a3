"""Hostile uploads: whatever is not the photo it claims to be is refused and leaves nothing.

Each refusal is a 4xx (a problem+json from the API; the store's own answer when the store
refuses the upload), nothing of the photo is left in the store (original, display image,
thumbnail), the photo is rejected or never created, and nothing can refer to it.
"""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from fieldapi.photos.models import Photo
from tests.photos import images
from tests.photos.conftest import API, assert_problem, sha256, small_jpeg

NOTHING = {"original": False, "display": False, "thumbnail": False}


def flipped(data: bytes) -> bytes:
    """The same length, one byte in the middle changed: what a bad network does."""
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x55]) + data[middle + 1 :]


HOSTILE = [
    # (name, bytes sent, content type declared, sha256 declared or None for the true one,
    #  the reason given)
    ("wrong hash", lambda: flipped(small_jpeg(40)), "image/jpeg", lambda: small_jpeg(40),
     "hash-mismatch"),
    ("web page as a JPEG", images.not_an_image, "image/jpeg", None, "not-an-image"),
    ("JPEG that is also a ZIP", lambda: images.with_zip(small_jpeg(41)), "image/jpeg", None,
     "corrupt"),
    ("PNG declared as a JPEG", lambda: images.png(160, 120), "image/jpeg", None,
     "format-mismatch"),
    ("JPEG cut short", lambda: images.truncated(small_jpeg(42)), "image/jpeg", None,
     "truncated"),
    ("900 MP PNG bomb", lambda: images.bilevel_png(30000, 30000), "image/png", None,
     "too-many-pixels"),
    ("GIF as a JPEG", images.gif, "image/jpeg", None, "unsupported-format"),
]  # fmt: skip


def assert_problem_bytes(fetched, status: int, slug: str) -> None:
    """A problem+json answer, fetched as bytes."""
    assert fetched.status == status, fetched.body[:300]
    assert fetched.headers["Content-Type"] == "application/problem+json"
    assert json.loads(fetched.body)["type"].endswith("/problems/" + slug)


def assert_left_nothing(photos, db, attach, world, photo_id) -> None:
    assert photos.stored(photo_id) == NOTHING
    assert photos.uses(db, photo_id) == 0
    response = attach("gw1", world.buildings["B1"], statement=photo_id)
    assert_problem(response, 422, "validation-failed", pointer="/statement/photo_id")
    assert photos.uses(db, photo_id) == 0


@pytest.mark.parametrize(
    ("make", "content_type", "declared", "reason"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_a_hostile_file_is_rejected_and_removed(
    make, content_type, declared, reason, photos, as_user, db, attach, world
):
    headers = as_user("gw1")
    data = make()
    photo_id = photos.upload(
        headers, data, content_type, declared_sha256=sha256(declared()) if declared else None
    )
    assert photos.stored(photo_id)["original"] is True  # it did arrive

    response = photos.complete(headers, photo_id)

    body = assert_problem(response, 422, "validation-failed")
    assert body["reason"] == reason
    assert photos.row(db, photo_id).status == "rejected"
    shown = photos.get(headers, photo_id).get_json()
    assert shown["status"] == "rejected"
    assert shown["rejection"]["reason"] == reason
    assert (shown["display_url"], shown["thumbnail_url"], shown["original_url"]) == (None,) * 3
    assert_left_nothing(photos, db, attach, world, photo_id)
    # Asking again gives the same verdict; the bytes do not come back.
    assert (
        assert_problem(photos.complete(headers, photo_id), 422, "validation-failed")["reason"]
        == reason
    )
    assert photos.stored(photo_id) == NOTHING


def test_an_empty_file_is_refused_at_the_slot(photos, as_user, db):
    response = photos.slot(as_user("gw1"), b"")

    assert_problem(response, 422, "validation-failed", pointer="/size")
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Photo)) == 0


@pytest.mark.parametrize("delta", [1, 1000, -1, -1000], ids=["+1", "+1000", "-1", "-1000"])
def test_a_body_of_another_size_than_declared_is_refused_as_told(
    delta, photos, as_user, db, backend
):
    headers = as_user("gw1")
    data = small_jpeg(43)
    body = data + bytes(delta) if delta > 0 else data[:delta]
    slot = photos.slot(headers, data).get_json()

    sent = photos.send(headers, slot["upload"], body)

    if backend == "embedded":  # the API's own route
        assert slot["upload"]["method"] == "PUT"
        if delta > 0:
            assert_problem_bytes(sent, 413, "payload-too-large")
        else:
            assert_problem_bytes(sent, 422, "validation-failed")
    else:  # SeaweedFS refuses what its POST policy does not allow
        assert slot["upload"]["method"] == "POST"
        assert 400 <= sent.status < 500
        assert (b"EntityTooLarge" if delta > 0 else b"EntityTooSmall") in sent.body
    assert photos.stored(slot["id"]) == NOTHING
    assert_problem(photos.complete(headers, slot["id"]), 409, "conflict")
    assert photos.row(db, slot["id"]).status == "pending"
    # The slot is not spoilt: the right bytes still go through.
    assert photos.send(headers, slot["upload"], data).status in (201, 204)
    assert photos.complete(headers, slot["id"]).get_json()["status"] == "verified"


@pytest.mark.parametrize("delta", [1, 100_000, -1], ids=["+1", "+100000", "-1"])
def test_the_api_route_refuses_a_body_of_another_size_and_stores_nothing(
    delta, photos, as_user, db
):
    headers = as_user("gw1")
    data = small_jpeg(45)
    slot = photos.slot(headers, data).get_json()
    body = (data + bytes(delta)) if delta > 0 else data[:delta]

    response = photos.put_content(headers, slot["id"], body)

    if delta > 0:
        assert_problem(response, 413, "payload-too-large")
    else:
        assert_problem(response, 422, "validation-failed", pointer="/size")
    assert photos.stored(slot["id"]) == NOTHING
    assert photos.row(db, slot["id"]).status == "pending"


@pytest.mark.parametrize("extra", [1, 300_000])
def test_a_streamed_body_longer_than_declared_is_cut_off_and_stores_nothing(extra, photos, as_user):
    # No Content-Length (chunked), read from a server that ends the body itself: the size
    # is only known by reading, and reading stops one byte past the declared size.
    headers = as_user("gw1")
    data = small_jpeg(46)
    slot = photos.slot(headers, data).get_json()

    response = photos.client.put(
        f"{API}/{slot['id']}/content",
        input_stream=io.BytesIO(data + bytes(extra)),
        headers={**headers, "Content-Type": "image/jpeg"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert_problem(response, 413, "payload-too-large")
    assert photos.stored(slot["id"]) == NOTHING
