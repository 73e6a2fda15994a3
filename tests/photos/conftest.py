"""Photo tests: send the bytes the way the slot says, read links, look into the store.

The same tests run on both backends. The embedded one answers a slot with a PUT to the API's
own content route (sent with the caller's bearer token); the server one with a presigned
form POST straight to SeaweedFS (the slot's fields, then the file last, as "file"). Links
are either the API's own (served by the test client) or the store's presigned URLs (fetched
over loopback HTTP, without credentials).
"""

from __future__ import annotations

import dataclasses
import hashlib
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import pytest
from sqlalchemy import func, select
from urllib3 import encode_multipart_formdata

from fieldapi import create_app
from fieldapi.photos.models import Photo, PhotoUse
from tests.photos import images

API = "/api/v1/photos"


@dataclass(frozen=True)
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes


def assert_problem(response, status: int, slug: str, pointer: str | None = None) -> dict:
    """A problem+json of this status and slug (naming ``pointer`` if given); its body."""
    body = response.get_json(force=True)
    assert response.status_code == status, body
    assert response.mimetype == "application/problem+json"
    assert body["status"] == status
    assert body["type"].endswith("/problems/" + slug)
    assert "Traceback" not in response.get_data(as_text=True)
    if pointer is not None:
        assert pointer in [error["pointer"] for error in body.get("errors", [])], body
    return body


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=64)
def small_jpeg(seed: int, **exif) -> bytes:
    """A distinct little photo per seed (different scenes, different perceptual hashes)."""
    return images.jpeg(160, 120, seed=seed, **exif)


def is_api_url(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return not parts.netloc or parts.hostname == "localhost"


def api_path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def http(url: str, *, method="GET", data=None, headers=None) -> Fetched:
    """One plain HTTP exchange with the object store, on loopback only, no redirects followed."""
    parts = urllib.parse.urlsplit(url)
    assert parts.scheme == "http"
    assert parts.hostname == "127.0.0.1", url
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return Fetched(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Fetched(exc.code, dict(exc.headers), exc.read())


class PhotoClient:
    """The phone's side of the photo exchanges, for one app."""

    def __init__(self, client, app) -> None:
        self.client = client
        self.app = app

    @property
    def blobs(self):
        return self.app.extensions["fieldapi.blobs"]

    # The exchanges

    def slot(
        self,
        headers: dict[str, str],
        data: bytes,
        content_type: str = "image/jpeg",
        *,
        photo_id: uuid.UUID | str | None = None,
        declared_sha256: str | None = None,
        size: int | None = None,
    ):
        """POST /photos for ``data`` (declared hash and size can be made to lie)."""
        body = {
            "id": str(photo_id or uuid.uuid4()),
            "sha256": declared_sha256 or sha256(data),
            "size": len(data) if size is None else size,
            "content_type": content_type,
        }
        return self.client.post(API, json=body, headers=headers)

    def send(self, headers: dict[str, str], upload: dict, data: bytes) -> Fetched:
        """Send ``data`` exactly as the upload instruction says."""
        if upload["method"] == "PUT":
            if is_api_url(upload["url"]):
                response = self.client.put(
                    api_path(upload["url"]),
                    data=data,
                    headers={**headers, **upload["headers"]},
                    buffered=True,
                )
                return Fetched(response.status_code, dict(response.headers), response.data)
            return http(upload["url"], method="PUT", data=data, headers=upload["headers"])
        assert upload["method"] == "POST"
        content_type = upload["fields"].get("Content-Type", "application/octet-stream")
        form: list = [*upload["fields"].items(), ("file", ("photo", data, content_type))]
        encoded, form_type = encode_multipart_formdata(form)
        return http(
            upload["url"],
            method="POST",
            data=encoded,
            headers={**upload["headers"], "Content-Type": form_type},
        )

    def put_content(self, headers, photo_id, data: bytes, content_type: str = "image/jpeg"):
        """The API's own upload route, whatever the slot said."""
        return self.client.put(
            f"{API}/{photo_id}/content",
            data=data,
            headers={**headers, "Content-Type": content_type},
        )

    def complete(self, headers: dict[str, str], photo_id):
        return self.client.post(f"{API}/{photo_id}/complete", headers=headers)

    def get(self, headers: dict[str, str], photo_id):
        return self.client.get(f"{API}/{photo_id}", headers=headers)

    def upload(
        self,
        headers: dict[str, str],
        data: bytes,
        content_type: str = "image/jpeg",
        *,
        photo_id: uuid.UUID | str | None = None,
        declared_sha256: str | None = None,
    ) -> str:
        """Ask for a slot and send the bytes; the photo's id."""
        slot = self.slot(
            headers, data, content_type, photo_id=photo_id, declared_sha256=declared_sha256
        )
        assert slot.status_code == 201, slot.get_json()
        body = slot.get_json()
        assert body["status"] == "pending"
        sent = self.send(headers, body["upload"], data)
        assert sent.status in (200, 201, 204), (sent.status, sent.body[:300])
        return body["id"]

    def verified(
        self, headers: dict[str, str], data: bytes, content_type: str = "image/jpeg", **kwargs
    ) -> dict:
        """Upload and complete; the verified photo."""
        photo_id = self.upload(headers, data, content_type, **kwargs)
        response = self.complete(headers, photo_id)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["status"] == "verified"
        return body

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> Fetched:
        """GET a link the API handed out: its own (test client) or the store's (HTTP)."""
        if is_api_url(url):
            response = self.client.get(api_path(url), headers=headers or {}, buffered=True)
            return Fetched(response.status_code, dict(response.headers), response.data)
        return http(url, headers=headers)

    # What is stored

    def keys(self, photo_id) -> dict[str, str]:
        photo_id = uuid.UUID(str(photo_id))
        return {
            "original": f"photos/{photo_id}/original",
            "display": f"photos/{photo_id}/display.jpg",
            "thumbnail": f"photos/{photo_id}/thumbnail.jpg",
        }

    def stored(self, photo_id) -> dict[str, bool]:
        """Which of the photo's objects exist in the store."""
        return {name: self.blobs.head(key) is not None for name, key in self.keys(photo_id).items()}

    def row(self, db, photo_id) -> Photo | None:
        db.expire_all()
        return db.get(Photo, uuid.UUID(str(photo_id)))

    def uses(self, db, photo_id) -> int:
        db.expire_all()
        return db.scalar(
            select(func.count())
            .select_from(PhotoUse)
            .where(PhotoUse.photo_id == uuid.UUID(str(photo_id)))
        )


@pytest.fixture
def photos(client, app) -> PhotoClient:
    return PhotoClient(client, app)


@pytest.fixture
def other_app(settings, migrated) -> Iterator:
    """``other_app(**changes)``: an app from the same settings with ``changes``, sharing the
    database and the store with ``app``."""
    made = []

    def make(**changes):
        other = create_app(dataclasses.replace(settings, **changes))
        made.append(other)
        return other

    yield make
    for other in made:
        other.extensions["fieldapi.engine"].dispose()


@pytest.fixture
def attach(client, as_user):
    """``attach(username, building_id, statement=photo_id, equipment=[photo_id, ...])``:
    PATCH the building file with If-Match; the response."""

    def patch(username: str, building_id, *, statement=None, equipment=()):
        headers = as_user(username)
        url = f"/api/v1/buildings/{building_id}"
        current = client.get(url, headers=headers)
        assert current.status_code == 200, current.get_json()
        body: dict = {}
        if statement is not None:
            body["statement"] = {"photo_id": str(statement)}
        if equipment:
            body["equipment"] = [
                {"kind": "extinguisher", "location": f"floor {i + 1}", "photo_id": str(p)}
                for i, p in enumerate(equipment)
            ]
        return client.patch(
            url, json=body, headers={**headers, "If-Match": current.headers["ETag"]}
        )

    return patch
