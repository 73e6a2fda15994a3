"""Small helpers views share: ETags on answers, conditional GETs."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface

from fieldapi.core import jsonbody
from fieldapi.core.etag import matches_none


def with_etag(body: Any, etag: str, status: int = 200) -> tuple[Any, int, dict[str, str]]:
    return body, status, {"ETag": etag}


def conditional(body: Any, etag: str) -> Any:
    """304 when the client's If-None-Match already names ``etag``, else the body with it."""
    if matches_none(request.headers.get("If-None-Match"), etag):
        return Response(status=304, headers={"ETag": etag})
    return with_etag(body, etag)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """An answer already in its final shape (or already JSON text), sent without a schema's
    dump: for hot reads whose builders produce exactly what the documented schema would."""
    if not isinstance(body, bytes):
        body = jsonbody.dump(body)
    return Response(body, status=status, headers=headers, mimetype="application/json")


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signer made once per app instead of on
    every request (the API itself signs in with bearer tokens and keeps no cookie)."""

    def get_signing_serializer(self, app: Flask):
        signer = app.extensions.get("fieldapi.cookie_signer")
        if signer is None:
            signer = app.extensions["fieldapi.cookie_signer"] = super().get_signing_serializer(app)
        return signer
