"""Short-lived links to a photo's display image and thumbnail.

On S3 these are presigned GETs; on the local store the API signs its own link, which works
without a bearer token (so an ``<img src>`` can use it) until it expires.
"""

from __future__ import annotations

import uuid

from flask import current_app, request, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from fieldapi.photos.models import Photo

SALT = "fieldapi.photo-link"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def api_url(endpoint: str, **values) -> str:
    """An absolute URL to one of our routes, at FIELDAPI_PUBLIC_URL when set."""
    path = url_for(endpoint, **values)
    public = current_app.extensions["fieldapi.settings"].public_url
    return (public or request.host_url.rstrip("/")) + path


def variant_url(photo: Photo, variant: str) -> str:
    settings = current_app.extensions["fieldapi.settings"]
    blobs = current_app.extensions["fieldapi.blobs"]
    key = photo.display_key if variant == "display" else photo.thumbnail_key
    presigned = blobs.presign_get(key, expires_in=settings.photo_link_seconds)
    if presigned is not None:
        return presigned
    return signed_link(photo.id, variant)


def signed_link(photo_id: uuid.UUID, variant: str) -> str:
    """The API's own signed link to a display image or thumbnail, good on every store."""
    token = _serializer().dumps({"photo": str(photo_id), "variant": variant})
    return api_url("photos.PhotoVariant", photo_id=photo_id, variant=variant, token=token)


def link_is_valid(token: str, photo_id: uuid.UUID, variant: str) -> bool:
    max_age = current_app.extensions["fieldapi.settings"].photo_link_seconds
    try:
        claims = _serializer().loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return False
    return claims == {"photo": str(photo_id), "variant": variant}
