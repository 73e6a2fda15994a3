"""Photo evidence over HTTP, on either backend: slot, upload as told, complete, read, links.

Every photo is sent the way its slot says (a PUT to the API, or a form POST to the store),
and every link is followed the way a phone would; see tests/photos/conftest.py.
"""

from __future__ import annotations

import hashlib
import io
import time
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from PIL import Image
from sqlalchemy import func, select

from fieldapi.audit.models import AuditEvent
from fieldapi.photos.models import Photo
from tests.photos import images
from tests.photos.conftest import API, Fetched, assert_problem, sha256, small_jpeg

TAKEN = datetime(2024, 5, 1, 10, 20, 30, tzinfo=timezone(timedelta(hours=8)))
SITE = (22.528, 114.063)  # where the world's buildings stand
CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heic",
}
MIB = 1024 * 1024
REVIEWERS = ("admin", "gw1", "office1", "police1")
NOT_REVIEWERS = ("mgr1", "officer1")
IN_SCOPE_OF_B1 = ("mgr1", "gw1", "officer1", "office1", "police1")
LINK_FIELDS = ("display_url", "thumbnail_url", "original_url")


def bare_jpeg(fetched: Fetched, longest: int) -> Image.Image:
    """A JPEG no larger than ``longest`` that carries no EXIF (and so no GPS) at all."""
    assert fetched.status == 200, fetched.body[:300]
    assert fetched.headers["Content-Type"].startswith("image/jpeg")
    img = Image.open(io.BytesIO(fetched.body))
    assert img.format == "JPEG"
    assert max(img.size) <= longest
    assert not img.getexif()
    assert "exif" not in img.info
    assert b"Exif\x00\x00" not in fetched.body
    return img


def original_bytes(photos, headers, body: dict) -> bytes:
    """Download the original as a reviewer does: the bytes, or a redirect to a signed URL."""
    assert body["original_url"]
    response = photos.client.get(link_path(body["original_url"]), headers=headers, buffered=True)
    if response.status_code == 302:
        assert photos.blobs.kind == "s3"
        fetched = photos.fetch(response.headers["Location"])
        assert fetched.status == 200
        return fetched.body
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert photos.blobs.kind == "local"
    return response.data


def without_links(body: dict) -> dict:
    return {key: value for key, value in body.items() if key not in LINK_FIELDS}


def link_path(url: str) -> str:
    return urllib.parse.urlsplit(url).path


def photo_rows(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Photo))


def photo_keys(photos) -> set[str]:
    return set(photos.blobs.iter_keys("photos/"))


# ---------------------------------------------------------------- the happy path


@pytest.mark.parametrize("fmt", list(CONTENT_TYPES))
def test_each_format_is_verified_with_the_facts_its_exif_holds(fmt, photos, as_user):
    data = images.MAKERS[fmt](640, 480, gps=SITE, taken=TAKEN, make="Xiaomi", model="2201123C")
    headers = as_user("gw1")

    slot = photos.slot(headers, data, CONTENT_TYPES[fmt])
    assert slot.status_code == 201, slot.get_json()
    pending = slot.get_json()
    assert pending["status"] == "pending"
    assert set(pending["upload"]) >= {"method", "url", "headers", "fields"}
    assert pending["display_url"] is None
    sent = photos.send(headers, pending["upload"], data)
    assert sent.status in (201, 204)
    response = photos.complete(headers, pending["id"])

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["id"] == pending["id"]
    assert body["status"] == "verified"
    assert (body["width"], body["height"]) == (640, 480)
    assert datetime.fromisoformat(body["captured_at"]) == TAKEN
    assert body["location"] == {
        "lat": pytest.approx(SITE[0], abs=1e-6),
        "lon": pytest.approx(SITE[1], abs=1e-6),
    }
    assert body["device"] == "Xiaomi 2201123C"
    assert body["upload"] is None
    assert without_links(photos.get(headers, body["id"]).get_json()) == without_links(body)
    display = bare_jpeg(photos.fetch(body["display_url"]), 2048)
    thumbnail = bare_jpeg(photos.fetch(body["thumbnail_url"]), 320)
    assert display.size == (640, 480)
    assert thumbnail.size == (320, 240)
    assert photos.stored(body["id"]) == {"original": True, "display": True, "thumbnail": True}


def test_a_large_photo_is_shown_at_most_2048_and_thumbnailed_at_most_320(photos, as_user):
    data = images.jpeg(2600, 1950, seed=4)

    body = photos.verified(as_user("gw1"), data)

    assert (body["width"], body["height"]) == (2600, 1950)
    assert bare_jpeg(photos.fetch(body["display_url"]), 2048).size == (2048, 1536)
    assert bare_jpeg(photos.fetch(body["thumbnail_url"]), 320).size == (320, 240)


def test_a_photo_stored_sideways_reports_its_size_as_displayed(photos, as_user):
    headers = as_user("gw1")
    # Stored 300x400 and tagged 6: shown as the 400x300 landscape picture.
    landscape = photos.verified(headers, images.oriented(6))
    # Stored 640x480 and tagged 6: a phone held upright, shown 480x640.
    portrait = photos.verified(headers, images.jpeg(640, 480, orientation=6, seed=8))

    assert (landscape["width"], landscape["height"]) == (400, 300)
    shown = bare_jpeg(photos.fetch(landscape["display_url"]), 2048)
    assert shown.size == (400, 300)
    assert max(abs(a - b) for a, b in zip(shown.getpixel((20, 15)), (255, 0, 0), strict=True)) < 60
    assert (portrait["width"], portrait["height"]) == (480, 640)
    assert bare_jpeg(photos.fetch(portrait["display_url"]), 2048).size == (480, 640)
    assert bare_jpeg(photos.fetch(portrait["thumbnail_url"]), 320).size == (240, 320)


def test_the_original_a_reviewer_downloads_is_the_bytes_uploaded(photos, as_user):
    data = images.jpeg(800, 600, gps=SITE, taken=TAKEN, seed=11)
    headers = as_user("gw1")

    body = photos.verified(headers, data)

    downloaded = original_bytes(photos, headers, body)
    assert hashlib.sha256(downloaded).hexdigest() == sha256(data) == body["sha256"]
    assert downloaded == data  # EXIF, GPS and all: evidence is kept untouched


def test_a_photo_larger_than_a_json_request_uploads_through_the_api(photos, as_user):
    data = images.png(1200, 900, seed=2)
    assert len(data) > MIB  # above the limit on ordinary request bodies
    headers = as_user("gw1")
    slot = photos.slot(headers, data, "image/png").get_json()

    response = photos.put_content(headers, slot["id"], data, "image/png")

    assert response.status_code == 204, response.get_data(as_text=True)[:300]
    assert photos.complete(headers, slot["id"]).get_json()["status"] == "verified"


# ---------------------------------------------------------------- the slot and retries


def test_the_same_bytes_again_answer_the_photo_already_sent(photos, as_user, db):
    headers = as_user("gw1")
    data = small_jpeg(1)
    first = photos.verified(headers, data)
    keys = photo_keys(photos)

    again = photos.slot(headers, data, photo_id=uuid.uuid4())

    assert again.status_code == 200
    body = again.get_json()
    assert body["id"] == first["id"]
    assert body["status"] == "verified"
    assert body["upload"] is None
    assert photo_rows(db) == 1
    assert photo_keys(photos) == keys


def test_the_same_bytes_while_still_pending_answer_the_first_slot(photos, as_user, db):
    headers = as_user("gw1")
    data = small_jpeg(2)
    first = photos.slot(headers, data).get_json()

    again = photos.slot(headers, data, photo_id=uuid.uuid4())

    assert again.status_code == 200
    body = again.get_json()
    assert body["id"] == first["id"]
    assert body["status"] == "pending"
    assert body["upload"]["method"] == first["upload"]["method"]
    assert photo_rows(db) == 1
    photos.send(headers, body["upload"], data)
    assert photos.complete(headers, first["id"]).get_json()["status"] == "verified"


def test_a_retried_slot_with_the_same_id_and_content_answers_200(photos, as_user, db):
    headers = as_user("gw1")
    data = small_jpeg(3)
    photo_id = uuid.uuid4()
    first = photos.slot(headers, data, photo_id=photo_id)
    assert first.status_code == 201

    pending = photos.slot(headers, data, photo_id=photo_id)
    assert pending.status_code == 200
    assert pending.get_json()["id"] == str(photo_id)
    assert pending.get_json()["upload"] is not None
    photos.send(headers, pending.get_json()["upload"], data)
    photos.complete(headers, photo_id)
    verified = photos.slot(headers, data, photo_id=photo_id)

    assert verified.status_code == 200
    assert verified.get_json()["status"] == "verified"
    assert verified.get_json()["upload"] is None
    assert photo_rows(db) == 1


def test_the_same_id_with_other_content_is_a_conflict(photos, as_user, db):
    headers = as_user("gw1")
    photo_id = uuid.uuid4()
    assert photos.slot(headers, small_jpeg(4), photo_id=photo_id).status_code == 201

    other_bytes = photos.slot(headers, small_jpeg(5), photo_id=photo_id)
    other_type = photos.slot(headers, small_jpeg(4), "image/png", photo_id=photo_id)
    other_user = photos.slot(as_user("officer1"), small_jpeg(4), photo_id=photo_id)

    for response in (other_bytes, other_type, other_user):
        assert_problem(response, 409, "conflict")
    row = photos.row(db, photo_id)
    assert (row.sha256, row.content_type) == (sha256(small_jpeg(4)), "image/jpeg")
    assert photo_rows(db) == 1


def test_another_user_may_upload_the_same_bytes_as_a_photo_of_their_own(photos, as_user, db):
    data = small_jpeg(6)
    mine = photos.verified(as_user("gw1"), data)

    slot = photos.slot(as_user("officer1"), data)

    assert slot.status_code == 201
    assert slot.get_json()["id"] != mine["id"]
    photos.send(as_user("officer1"), slot.get_json()["upload"], data)
    theirs = photos.complete(as_user("officer1"), slot.get_json()["id"]).get_json()
    assert theirs["status"] == "verified"
    assert theirs["sha256"] == mine["sha256"]
    assert photo_rows(db) == 2
    assert photos.get(as_user("officer1"), mine["id"]).status_code == 404


def test_completing_twice_answers_the_same_photo(photos, as_user):
    headers = as_user("gw1")
    photo_id = photos.upload(headers, small_jpeg(7, gps=SITE, taken=TAKEN))
    first = photos.complete(headers, photo_id)

    second = photos.complete(headers, photo_id)

    assert first.status_code == second.status_code == 200
    assert without_links(second.get_json()) == without_links(first.get_json())
    for name in ("display_url", "thumbnail_url"):
        assert link_path(second.get_json()[name]) == link_path(first.get_json()[name])


def test_completing_before_the_bytes_arrive_is_a_conflict(photos, as_user, db):
    headers = as_user("gw1")
    slot = photos.slot(headers, small_jpeg(8)).get_json()

    response = photos.complete(headers, slot["id"])

    assert_problem(response, 409, "conflict")
    assert photos.row(db, slot["id"]).status == "pending"
    # The slot still works once the bytes are sent.
    photos.send(headers, slot["upload"], small_jpeg(8))
    assert photos.complete(headers, slot["id"]).status_code == 200


@pytest.mark.parametrize("content_type", ["image/gif", "application/pdf", "image/svg+xml"])
def test_a_type_that_is_not_a_photo_is_refused_at_the_slot(content_type, photos, as_user, db):
    response = photos.slot(as_user("gw1"), small_jpeg(9), content_type)

    assert_problem(response, 422, "validation-failed", pointer="/content_type")
    assert photo_rows(db) == 0


def test_a_photo_larger_than_the_limit_is_refused_at_the_slot(photos, as_user, db, settings):
    headers = as_user("gw1")
    limit = settings.max_upload_bytes
    assert limit == 50 * MIB

    too_large = photos.slot(headers, small_jpeg(10), size=limit + 1)
    at_limit = photos.slot(headers, small_jpeg(10), size=limit)

    body = assert_problem(too_large, 422, "validation-failed", pointer="/size")
    assert "50 MB" in body["detail"]
    assert at_limit.status_code == 201
    assert photo_rows(db) == 1


def test_the_size_limit_follows_the_settings(photos, as_user, other_app):
    small = other_app(max_upload_bytes=1000)
    data = small_jpeg(11)
    assert len(data) > 1000

    response = small.test_client().post(
        API,
        json={
            "id": str(uuid.uuid4()),
            "sha256": sha256(data),
            "size": len(data),
            "content_type": "image/jpeg",
        },
        headers=as_user("gw1"),
    )

    assert_problem(response, 422, "validation-failed", pointer="/size")


# ---------------------------------------------------------------- the API's own upload route


def test_content_in_another_type_than_declared_is_refused(photos, as_user, db):
    headers = as_user("gw1")
    slot = photos.slot(headers, small_jpeg(12)).get_json()

    response = photos.put_content(headers, slot["id"], small_jpeg(12), "image/png")

    assert_problem(response, 422, "validation-failed", pointer="/content_type")
    assert photos.stored(slot["id"])["original"] is False
    assert photos.row(db, slot["id"]).status == "pending"


def test_content_after_the_slot_expired_is_refused(photos, as_user, db):
    headers = as_user("gw1")
    slot = photos.slot(headers, small_jpeg(13)).get_json()
    row = photos.row(db, slot["id"])
    row.upload_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.commit()

    response = photos.put_content(headers, slot["id"], small_jpeg(13))

    assert_problem(response, 409, "conflict")
    assert photos.stored(slot["id"])["original"] is False


def test_content_for_someone_elses_photo_is_not_found(photos, as_user):
    slot = photos.slot(as_user("gw1"), small_jpeg(14)).get_json()

    response = photos.put_content(as_user("officer1"), slot["id"], small_jpeg(14))

    assert_problem(response, 404, "not-found")
    assert photos.stored(slot["id"])["original"] is False


def test_content_for_a_verified_photo_is_a_conflict(photos, as_user):
    headers = as_user("gw1")
    body = photos.verified(headers, small_jpeg(15))

    response = photos.put_content(headers, body["id"], small_jpeg(16))

    assert_problem(response, 409, "conflict")
    assert original_bytes(photos, headers, body) == small_jpeg(15)


# ---------------------------------------------------------------- who sees what


@pytest.fixture
def reader(client, as_user):
    def read(username: str, photo_id):
        return client.get(f"{API}/{photo_id}", headers=as_user(username))

    return read


def test_an_unattached_photo_is_seen_by_its_uploader_and_admins_only(photos, as_user, reader):
    photo = photos.verified(as_user("mgr1"), small_jpeg(20))

    assert reader("mgr1", photo["id"]).status_code == 200
    assert reader("admin", photo["id"]).status_code == 200
    for username in ("gw1", "officer1", "office1", "police1"):
        assert_problem(reader(username, photo["id"]), 404, "not-found")


def test_an_attached_photo_is_seen_by_everyone_in_scope_of_its_building(
    photos, as_user, reader, attach, world
):
    photo = photos.verified(as_user("mgr1"), small_jpeg(21, gps=SITE, taken=TAKEN))

    patched = attach("mgr1", world.buildings["B1"], statement=photo["id"])

    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["statement"]["photo_id"] == photo["id"]
    for username in ("admin", *IN_SCOPE_OF_B1):
        response = reader(username, photo["id"])
        assert response.status_code == 200, username
        body = response.get_json()
        assert body["uses"][0]["building_id"] == str(world.buildings["B1"])
        if username in REVIEWERS:
            assert body["original_url"], username
        else:
            assert body["original_url"] is None, username


def test_a_photo_of_a_building_out_of_scope_is_not_found(photos, as_user, reader, attach, world):
    photo = photos.verified(as_user("admin"), small_jpeg(22))
    assert attach("admin", world.buildings["B4"], statement=photo["id"]).status_code == 200

    assert reader("admin", photo["id"]).status_code == 200
    for username in IN_SCOPE_OF_B1:
        assert_problem(reader(username, photo["id"]), 404, "not-found")
        original = photos.client.get(f"{API}/{photo['id']}/original", headers=as_user(username))
        assert original.status_code == (404 if username in REVIEWERS else 403)
        assert photo["id"] not in original.get_data(as_text=True)


def test_a_photo_shows_only_its_uses_in_the_readers_scope(photos, as_user, reader, attach, world):
    photo = photos.verified(as_user("admin"), small_jpeg(37, gps=(22.6, 114.2), taken=TAKEN))
    assert attach("admin", world.buildings["B1"], statement=photo["id"]).status_code == 200
    assert attach("admin", world.buildings["B4"], statement=photo["id"]).status_code == 200

    seen_by_admin = reader("admin", photo["id"]).get_json()
    seen_by_gw1 = reader("gw1", photo["id"]).get_json()

    assert {u["building_id"] for u in seen_by_admin["uses"]} == {
        str(world.buildings["B1"]),
        str(world.buildings["B4"]),
    }
    assert [u["building_id"] for u in seen_by_gw1["uses"]] == [str(world.buildings["B1"])]
    assert str(world.buildings["B4"]) not in reader("gw1", photo["id"]).get_data(as_text=True)
    # The flags shown are those of the uses shown: the later use (B4) was the reuse.
    assert "reused" in seen_by_admin["flags"]
    assert "reused" not in seen_by_gw1["flags"]


def original_reads(db, photo_id) -> list[tuple[uuid.UUID, str]]:
    db.expire_all()
    return list(
        db.execute(
            select(AuditEvent.actor_id, AuditEvent.object_id)
            .where(AuditEvent.action == "photo.original.read", AuditEvent.object_id == photo_id)
            .order_by(AuditEvent.seq)
        ).all()
    )


def test_reviewers_in_scope_download_the_original_and_each_access_is_audited(
    photos, as_user, attach, world, db
):
    data = images.jpeg(320, 240, gps=SITE, taken=TAKEN, seed=23)
    photo = photos.verified(as_user("mgr1"), data)
    attach("mgr1", world.buildings["B1"], statement=photo["id"])

    for username in ("gw1", "office1", "police1", "admin", "gw1"):
        body = photos.get(as_user(username), photo["id"]).get_json()
        assert original_bytes(photos, as_user(username), body) == data

    reads = original_reads(db, photo["id"])
    users = [world.users[u] for u in ("gw1", "office1", "police1", "admin", "gw1")]
    assert reads == [(user_id, photo["id"]) for user_id in users]


def test_the_original_is_refused_to_roles_that_do_not_review(photos, as_user, attach, world, db):
    photo = photos.verified(as_user("mgr1"), small_jpeg(24))
    attach("mgr1", world.buildings["B1"], statement=photo["id"])

    for username in NOT_REVIEWERS:
        response = photos.client.get(f"{API}/{photo['id']}/original", headers=as_user(username))
        assert_problem(response, 403, "forbidden")
    assert original_reads(db, photo["id"]) == []


def test_the_original_of_a_photo_out_of_scope_is_not_found(photos, as_user, db):
    # Unattached and someone else's: out of scope even for a reviewer.
    photo = photos.verified(as_user("officer1"), small_jpeg(25))

    response = photos.client.get(f"{API}/{photo['id']}/original", headers=as_user("gw1"))

    assert_problem(response, 404, "not-found")
    assert original_reads(db, photo["id"]) == []


def test_a_photo_someone_else_uploaded_cannot_be_attached(photos, as_user, attach, world, db):
    theirs = photos.verified(as_user("gw1"), small_jpeg(26))
    before = photos.client.get(
        f"/api/v1/buildings/{world.buildings['B1']}", headers=as_user("mgr1")
    ).get_json()

    response = attach("mgr1", world.buildings["B1"], statement=theirs["id"])

    assert_problem(response, 422, "validation-failed", pointer="/statement/photo_id")
    after = photos.client.get(
        f"/api/v1/buildings/{world.buildings['B1']}", headers=as_user("mgr1")
    ).get_json()
    assert after["statement"] == before["statement"]
    assert photos.uses(db, theirs["id"]) == 0
    assert photos.get(as_user("mgr1"), theirs["id"]).status_code == 404


def test_a_photo_still_uploading_cannot_be_attached(photos, as_user, attach, world, db):
    headers = as_user("mgr1")
    pending = photos.slot(headers, small_jpeg(27)).get_json()
    uploaded = photos.upload(headers, small_jpeg(28))  # bytes sent, not completed

    for photo_id in (pending["id"], uploaded):
        response = attach("mgr1", world.buildings["B1"], statement=photo_id)
        assert_problem(response, 422, "validation-failed", pointer="/statement/photo_id")
        assert photos.uses(db, photo_id) == 0


def test_an_equipment_photo_is_attached_to_its_item(photos, as_user, attach, world, reader):
    photo = photos.verified(as_user("gw1"), small_jpeg(29, gps=SITE, taken=TAKEN))

    response = attach("gw1", world.buildings["B1"], equipment=[photo["id"]])

    assert response.status_code == 200, response.get_json()
    item = response.get_json()["equipment"][0]
    uses = reader("office1", photo["id"]).get_json()["uses"]
    assert [(u["subject_type"], u["subject_id"]) for u in uses] == [("equipment", item["id"])]


# ---------------------------------------------------------------- signed links


def tampered(url: str) -> str:
    """The link with one character of its signature changed."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    name = "token" if "token" in query else "X-Amz-Signature"
    # Not the last character: in base64 its low bits may be padding, and two spellings of
    # the last character can decode to the same signature.
    value = query[name]
    query[name] = value[:-5] + ("0" if value[-5] != "0" else "1") + value[-4:]
    return parts._replace(query=urllib.parse.urlencode(query)).geturl()


def refused(fetched: Fetched, photo_bytes_hint: bytes = b"\xff\xd8") -> bool:
    return fetched.status == 403 and not fetched.body.startswith(photo_bytes_hint)


def test_a_display_link_works_without_signing_in(photos, as_user):
    photo = photos.verified(as_user("gw1"), small_jpeg(30))

    display = photos.fetch(photo["display_url"])  # no Authorization header
    thumbnail = photos.fetch(photo["thumbnail_url"])

    assert bare_jpeg(display, 2048).size == (160, 120)
    assert bare_jpeg(thumbnail, 320).size == (160, 120)


def test_a_tampered_link_is_refused(photos, as_user):
    photo = photos.verified(as_user("gw1"), small_jpeg(31))

    for name in ("display_url", "thumbnail_url"):
        assert refused(photos.fetch(tampered(photo[name])))


def test_a_link_does_not_open_the_other_variant_or_another_photo(photos, as_user):
    headers = as_user("gw1")
    photo = photos.verified(headers, small_jpeg(32))
    other = photos.verified(headers, small_jpeg(33))
    display = photo["display_url"]
    parts = urllib.parse.urlsplit(display)

    as_thumbnail = parts._replace(path=parts.path.replace("display", "thumbnail")).geturl()
    as_other = parts._replace(path=parts.path.replace(photo["id"], other["id"])).geturl()

    assert as_thumbnail != display
    assert as_other != display
    assert refused(photos.fetch(as_thumbnail))
    assert refused(photos.fetch(as_other))
    assert photos.fetch(display).status == 200


def test_an_expired_link_is_refused(photos, as_user, other_app):
    quick = other_app(photo_link_seconds=1)
    photo = photos.verified(as_user("gw1"), small_jpeg(34))
    body = quick.test_client().get(f"{API}/{photo['id']}", headers=as_user("gw1")).get_json()
    quick_photos = type(photos)(quick.test_client(), quick)

    time.sleep(2.5)

    assert refused(quick_photos.fetch(body["display_url"]))
    assert refused(quick_photos.fetch(body["thumbnail_url"]))
    # The same photo, linked afresh, is shown.
    assert (
        photos.fetch(photos.get(as_user("gw1"), photo["id"]).get_json()["display_url"]).status
        == 200
    )


def test_a_link_without_a_token_is_refused(photos, as_user):
    photo = photos.verified(as_user("gw1"), small_jpeg(35))

    response = photos.client.get(f"{API}/{photo['id']}/display")

    assert_problem(response, 422, "validation-failed")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_content_of_exactly_the_declared_size_passes_a_server_that_ends_the_body(
    chunked, photos, as_user
):
    # gunicorn marks every body as ended by the server (wsgi.input_terminated), which makes
    # the request's size limit a hard stop rather than a Content-Length.
    headers = as_user("gw1")
    data = small_jpeg(36)
    slot = photos.slot(headers, data).get_json()
    length = {} if chunked else {"Content-Length": str(len(data))}

    response = photos.client.put(
        f"{API}/{slot['id']}/content",
        input_stream=io.BytesIO(data),
        headers={**headers, **length, "Content-Type": "image/jpeg"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert response.status_code == 204, response.get_data(as_text=True)[:300]
    assert photos.complete(headers, slot["id"]).get_json()["status"] == "verified"
