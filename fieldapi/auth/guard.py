"""The gate every request passes before its view: declared verb, token, live session, role.

It runs on every request, so it does the least that proves who is asking: the access
token is checked with PyJWT directly (HS256, the key the tokens are made with), and the
session and its user are read by one indexed lookup. Nothing is remembered between
requests: a session ended on one worker is ended on every worker at its next request.
"""

from __future__ import annotations

import base64
import logging
import uuid

import jwt
from flask import current_app, g, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request

from fieldapi.auth import service
from fieldapi.core import db as database
from fieldapi.core.permissions import AUTHENTICATED, PUBLIC, REFRESH, SCRAPER, can, current_verb
from fieldapi.core.problems import Forbidden, Problem
from fieldapi.core.scope import Actor
from fieldapi.ops.access import scraper_gate

log = logging.getLogger(__name__)

_REQUIRED = {"require": ["exp", "sub", "type"]}


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token or " " in token:
        raise Problem(slug="authentication-required")
    return token


def _signing_key() -> jwt.PyJWK:
    """The tokens' HS256 key, prepared once per app rather than on every request."""
    key = current_app.extensions.get("fieldapi.jwt_key")
    if key is None:
        secret = current_app.config["JWT_SECRET_KEY"].encode()
        k = base64.urlsafe_b64encode(secret).rstrip(b"=").decode()
        key = jwt.PyJWK({"kty": "oct", "k": k}, algorithm="HS256")
        current_app.extensions["fieldapi.jwt_key"] = key
    return key


def _access_claims() -> dict:
    """The claims of a valid, unexpired access token, or the problem that says why not."""
    token = _bearer()
    try:
        claims = jwt.decode(token, _signing_key(), algorithms=["HS256"], options=_REQUIRED)
    except jwt.ExpiredSignatureError:
        raise Problem(slug="token-expired") from None
    except jwt.PyJWTError:
        raise Problem(slug="token-invalid") from None
    if claims.get("type") != "access":
        raise Problem(slug="token-invalid")
    return claims


def _ids(claims: dict) -> tuple[uuid.UUID, uuid.UUID]:
    try:
        return uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["sid"]))
    except (KeyError, ValueError):
        raise Problem(slug="token-invalid") from None


def authorize() -> None:
    """Run before every view. Undeclared routes are refused: deny by default."""
    if request.endpoint is None or request.method == "OPTIONS":
        return  # routing errors (404/405) and CORS preflight carry no data
    verb = current_verb()
    if verb is None:
        log.error("route %s %s declares no permission", request.method, request.endpoint)
        raise Forbidden("This address is not open to any role.")
    if verb == PUBLIC:
        return
    if verb == SCRAPER:
        return scraper_gate()
    if verb == REFRESH:
        verify_jwt_in_request(refresh=True)
        claims = get_jwt()
        user_id, session_id = _ids(claims)
        g.refresh_claims = (user_id, session_id, claims["jti"])
        return
    claims = _access_claims()
    user_id, session_id = _ids(claims)
    live = service.live_session(database.session(), user_id=user_id, session_id=session_id)
    if live is None:
        raise Problem(slug="token-revoked")
    if not live.newest_used and claims.get("gen") == live.generation:
        service.mark_used(
            current_app.extensions["fieldapi.engine"],
            session_id=session_id,
            generation=live.generation,
        )
    g.actor = Actor(user_id=user_id, username=live.username, role=live.role, session_id=session_id)
    if verb != AUTHENTICATED and not can(live.role, verb):
        raise Forbidden()


def actor() -> Actor:
    return g.actor
