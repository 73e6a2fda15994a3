"""Flags on a photo's use as evidence: where it was taken, when, and whether it was used before.

Photos are attached the way the phone does it: a building file's statement photo or an
equipment item's photo, by PATCH. A flag never blocks the change (200); it is shown on the
photo, per use, with what backs it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.photos import images
from tests.photos.conftest import API, PhotoClient

B1_SITE = (22.528, 114.063)
METRES_PER_DEGREE_LAT = 111_195


def north_of_b1(metres: float) -> tuple[float, float]:
    return B1_SITE[0] + metres / METRES_PER_DEGREE_LAT, B1_SITE[1]


def recent() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


def photo(seed: int, *, gps=B1_SITE, taken=None, **params) -> bytes:
    """A distinct scene, taken where and when it is said to be unless told otherwise."""
    return images.jpeg(320, 240, seed=seed, gps=gps, taken=taken or recent(), **params)


def uses_of(client, headers, photo_id) -> list[dict]:
    response = client.get(f"{API}/{photo_id}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["uses"]


def only_use(client, headers, photo_id) -> dict:
    uses = uses_of(client, headers, photo_id)
    assert len(uses) == 1, uses
    return uses[0]


@pytest.fixture
def statement(photos, as_user, attach, world, client):
    """``statement(bytes)``: upload as mgr1 and attach as B1's statement; its one use."""

    def use(data: bytes, *, username: str = "mgr1", building: str = "B1") -> dict:
        uploaded = photos.verified(as_user(username), data)
        response = attach(username, world.buildings[building], statement=uploaded["id"])
        assert response.status_code == 200, response.get_json()
        return only_use(client, as_user(username), uploaded["id"])

    return use


def test_a_photo_taken_far_from_the_building_is_flagged(statement):
    use = statement(photo(1, gps=north_of_b1(1000)))

    assert "far_from_building" in use["flags"]
    assert use["details"]["distance_m"] == pytest.approx(1000, abs=5)


def test_a_photo_taken_at_the_building_is_not_flagged(statement):
    use = statement(photo(2, gps=north_of_b1(150)))

    assert use["flags"] == []
    assert use["details"]["distance_m"] == pytest.approx(150, abs=5)


def test_a_photo_without_a_location_is_flagged(statement):
    use = statement(photo(3, gps=None))

    assert use["flags"] == ["no_location"]
    assert "distance_m" not in use["details"]


def test_a_photo_taken_long_before_is_flagged_stale(statement):
    use = statement(photo(4, taken=datetime.now(UTC) - timedelta(hours=80)))

    assert use["flags"] == ["stale"]
    assert use["details"]["age_hours"] == pytest.approx(80, abs=0.2)


def test_a_photo_taken_within_the_limit_is_not_stale(statement):
    use = statement(photo(5, taken=datetime.now(UTC) - timedelta(hours=70)))

    assert use["flags"] == []


def test_the_same_photo_on_another_record_is_flagged_on_the_later_use(
    photos, as_user, attach, world, client
):
    headers = as_user("mgr1")
    uploaded = photos.verified(headers, photo(6))
    assert attach("mgr1", world.buildings["B1"], statement=uploaded["id"]).status_code == 200

    response = attach("mgr1", world.buildings["B1"], equipment=[uploaded["id"]])

    assert response.status_code == 200, response.get_json()
    item = response.get_json()["equipment"][0]
    uses = {u["subject_type"]: u for u in uses_of(client, headers, uploaded["id"])}
    assert uses["building_statement"]["flags"] == []
    later = uses["equipment"]
    assert later["subject_id"] == item["id"]
    assert later["flags"] == ["reused"]
    assert later["details"]["reused"] == [
        {
            "photo_id": uploaded["id"],
            "subject_type": "building_statement",
            "subject_id": str(world.buildings["B1"]),
            "building_id": str(world.buildings["B1"]),
            "match": "identical",
            "distance": 0,
        }
    ]
    shown = client.get(f"{API}/{uploaded['id']}", headers=as_user("office1")).get_json()
    assert shown["flags"] == ["reused"]


def test_the_same_bytes_uploaded_by_someone_else_are_flagged(
    photos, as_user, attach, world, client
):
    data = photo(7)
    first = photos.verified(as_user("gw1"), data)
    assert attach("gw1", world.buildings["B1"], equipment=[first["id"]]).status_code == 200
    second = photos.verified(as_user("mgr1"), data)
    assert second["id"] != first["id"]

    response = attach("mgr1", world.buildings["B1"], statement=second["id"])

    assert response.status_code == 200
    use = only_use(client, as_user("mgr1"), second["id"])
    assert use["flags"] == ["reused"]
    [earlier] = use["details"]["reused"]
    assert (earlier["photo_id"], earlier["subject_type"], earlier["match"]) == (
        first["id"],
        "equipment",
        "identical",
    )
    assert only_use(client, as_user("gw1"), first["id"])["flags"] == []


def near_copies(seed: int) -> tuple[bytes, bytes]:
    """One scene saved twice: different bytes, nearly the same picture."""
    scene = images.picture(640, 480, seed=seed)
    exif = images.exif_bytes(gps=B1_SITE, taken=recent())
    return (
        images.encode(scene, "JPEG", quality=95, exif=exif),
        images.encode(scene.resize((480, 360)), "JPEG", quality=60, exif=exif),
    )


def test_a_near_identical_copy_in_the_same_grid_is_flagged(photos, as_user, attach, world, client):
    original, copy = near_copies(8)
    first = photos.verified(as_user("gw1"), original)
    assert attach("gw1", world.buildings["B1"], equipment=[first["id"]]).status_code == 200
    second = photos.verified(as_user("gw1"), copy)
    assert second["sha256"] != first["sha256"]

    response = attach("gw1", world.buildings["B1"], statement=second["id"])

    assert response.status_code == 200
    use = only_use(client, as_user("gw1"), second["id"])
    assert use["flags"] == ["reused"]
    [earlier] = use["details"]["reused"]
    assert (earlier["photo_id"], earlier["match"]) == (first["id"], "similar")
    assert earlier["distance"] <= 6


def test_a_different_picture_in_the_same_grid_is_not_flagged(
    photos, as_user, attach, world, client
):
    first = photos.verified(as_user("gw1"), photo(9))
    assert attach("gw1", world.buildings["B1"], equipment=[first["id"]]).status_code == 200
    second = photos.verified(as_user("gw1"), photo(10))

    assert attach("gw1", world.buildings["B1"], statement=second["id"]).status_code == 200

    assert only_use(client, as_user("gw1"), second["id"])["flags"] == []


def test_a_near_identical_copy_is_judged_within_its_grid(photos, as_user, attach, world, client):
    # officer1 covers G1 (B1) and G2 (B2).
    headers = as_user("officer1")
    original, copy = near_copies(11)
    first = photos.verified(headers, original)
    assert attach("officer1", world.buildings["B1"], equipment=[first["id"]]).status_code == 200
    second = photos.verified(headers, copy)

    other_grid = attach("officer1", world.buildings["B2"], equipment=[second["id"]])
    same_grid = attach("officer1", world.buildings["B1"], statement=second["id"])

    assert other_grid.status_code == same_grid.status_code == 200
    uses = {u["building_id"]: u for u in uses_of(client, headers, second["id"])}
    assert uses[str(world.buildings["B2"])]["flags"] == []
    assert uses[str(world.buildings["B1"])]["flags"] == ["reused"]


def test_the_limits_come_from_the_settings(other_app, as_user, world):
    relaxed = other_app(photo_max_distance_m=5000, photo_max_age_hours=24 * 7)
    client = relaxed.test_client()
    photos = PhotoClient(client, relaxed)
    headers = as_user("mgr1")
    data = photo(12, gps=north_of_b1(1000), taken=datetime.now(UTC) - timedelta(hours=100))
    uploaded = photos.verified(headers, data)
    building = f"/api/v1/buildings/{world.buildings['B1']}"
    etag = client.get(building, headers=headers).headers["ETag"]

    response = client.patch(
        building,
        json={"statement": {"photo_id": uploaded["id"]}},
        headers={**headers, "If-Match": etag},
    )

    assert response.status_code == 200, response.get_json()
    use = only_use(client, headers, uploaded["id"])
    assert use["flags"] == []
    assert use["details"]["distance_m"] == pytest.approx(1000, abs=5)
    assert use["details"]["age_hours"] == pytest.approx(100, abs=0.2)


def test_every_flag_at_once_still_saves_the_file(photos, as_user, attach, world, client):
    headers = as_user("mgr1")
    data = photo(13, gps=north_of_b1(3000), taken=datetime.now(UTC) - timedelta(days=30))
    uploaded = photos.verified(headers, data)
    assert attach("mgr1", world.buildings["B1"], statement=uploaded["id"]).status_code == 200

    response = attach("mgr1", world.buildings["B1"], equipment=[uploaded["id"]])

    assert response.status_code == 200
    assert response.get_json()["equipment"][0]["photo_id"] == uploaded["id"]
    later = next(
        u for u in uses_of(client, headers, uploaded["id"]) if u["subject_type"] == "equipment"
    )
    assert sorted(later["flags"]) == ["far_from_building", "reused", "stale"]


def test_a_photo_never_attached_has_no_flags(photos, as_user):
    body = photos.verified(as_user("mgr1"), photo(14, gps=north_of_b1(5000)))

    assert (body["flags"], body["uses"]) == ([], [])
    assert uuid.UUID(body["id"])


def test_an_earlier_use_out_of_the_readers_scope_is_not_named(
    photos, as_user, attach, world, client
):
    uploaded = photos.verified(as_user("admin"), photo(15))
    assert attach("admin", world.buildings["B4"], statement=uploaded["id"]).status_code == 200
    assert attach("admin", world.buildings["B1"], statement=uploaded["id"]).status_code == 200

    seen_by_admin = uses_of(client, as_user("admin"), uploaded["id"])
    seen_by_gw1 = only_use(client, as_user("gw1"), uploaded["id"])

    later = next(u for u in seen_by_admin if u["building_id"] == str(world.buildings["B1"]))
    assert later["details"]["reused"][0]["building_id"] == str(world.buildings["B4"])
    assert seen_by_gw1["flags"] == ["reused"]
    assert seen_by_gw1["details"]["reused"] == [{"match": "identical", "distance": 0}]
    shown = client.get(f"{API}/{uploaded['id']}", headers=as_user("gw1")).get_data(as_text=True)
    assert str(world.buildings["B4"]) not in shown


def test_re_sending_equipment_without_ids_does_not_flag_the_photo_against_itself(
    photos, as_user, attach, world, client
):
    headers = as_user("mgr1")
    uploaded = photos.verified(headers, photo(41))
    first = attach("mgr1", world.buildings["B1"], equipment=[uploaded["id"]])
    second = attach("mgr1", world.buildings["B1"], equipment=[uploaded["id"]])
    assert first.status_code == second.status_code == 200

    uses = uses_of(client, headers, uploaded["id"])
    assert [u["subject_id"] for u in uses] == [second.get_json()["equipment"][0]["id"]]
    assert uses[0]["flags"] == []


def test_a_replaced_statement_photo_is_no_longer_attached(photos, as_user, attach, world, client):
    headers = as_user("mgr1")
    old = photos.verified(headers, photo(42))
    new = photos.verified(headers, photo(43))
    assert attach("mgr1", world.buildings["B1"], statement=old["id"]).status_code == 200
    assert attach("mgr1", world.buildings["B1"], statement=new["id"]).status_code == 200

    assert uses_of(client, headers, old["id"]) == []
    assert client.get(f"{API}/{old['id']}", headers=as_user("gw1")).status_code == 404
    assert len(uses_of(client, headers, new["id"])) == 1
