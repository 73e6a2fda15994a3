"""When the object store cannot be reached: 503 with Retry-After, and nothing half done."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import BACKEND
from tests.photos.conftest import PhotoClient, assert_problem, small_jpeg

pytestmark = pytest.mark.skipif(
    BACKEND != "server",
    reason="the embedded store is a local folder: there is no endpoint to lose",
)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def store_down(other_app):
    """An app like the test app whose object store endpoint is a closed loopback port."""
    return other_app(s3_endpoint_url=f"http://127.0.0.1:{closed_port()}")


def test_completing_while_the_store_is_down_is_503_and_changes_nothing(
    store_down, photos, as_user, db
):
    headers = as_user("gw1")
    data = small_jpeg(60)
    photo_id = photos.upload(headers, data)  # the bytes reached the store before it went

    response = store_down.test_client().post(f"/api/v1/photos/{photo_id}/complete", headers=headers)

    assert_problem(response, 503, "service-unavailable")
    assert int(response.headers["Retry-After"]) > 0
    row = photos.row(db, photo_id)
    assert row.status == "pending"
    assert (row.width, row.verified_at) == (None, None)
    assert photos.stored(photo_id) == {"original": True, "display": False, "thumbnail": False}
    # Back up: the same photo completes.
    done = photos.complete(headers, photo_id)
    assert done.status_code == 200
    assert done.get_json()["status"] == "verified"
    assert all(photos.stored(photo_id).values())


def test_uploading_through_the_api_while_the_store_is_down_is_503(store_down, photos, as_user, db):
    headers = as_user("gw1")
    data = small_jpeg(61)
    slot = photos.slot(headers, data).get_json()

    response = PhotoClient(store_down.test_client(), store_down).put_content(
        headers, slot["id"], data
    )

    assert_problem(response, 503, "service-unavailable")
    assert "Retry-After" in response.headers
    assert photos.row(db, slot["id"]).status == "pending"
    assert photos.stored(slot["id"])["original"] is False


def test_ready_reports_the_store_down(store_down, client):
    assert client.get("/ready").status_code == 200

    response = store_down.test_client().get("/ready")

    assert_problem(response, 503, "service-unavailable")
    assert "object store" in response.get_json()["detail"]
    assert "Retry-After" in response.headers
