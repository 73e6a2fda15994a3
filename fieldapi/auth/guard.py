"""The gate every request passes before its view: declared verb, token, live session, role.

It runs on every request, so it does the least that proves who is asking: the access
token is checked with PyJWT directly (and a token once found good is not checked again
but for its expiry), and the session and its user are read by one indexed lookup.
Nothing about a session is remembered between requests: a session ended on one worker is
ended on every worker at its next request.
"""

from __future__ import annotations

import base64
import logging
import time
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


class _Verifier:
    """The app's access tokens checked with PyJWT directly (HS256, the key the tokens are
    made with, prepared once).

    Tokens whose signature and claims were found good are remembered by their text: a
    phone sends the same token for its whole life, and the same bytes always verify the
    same way under the one key. Only the expiry changes with time, and it is checked on
    every use; the session behind the token is read on every request all the same.
    """

    REMEMBERED = 4096

    def __init__(self, secret: str) -> None:
        k = base64.urlsafe_b64encode(secret.encode()).rstrip(b"=").decode()
        self.key = jwt.PyJWK({"kty": "oct", "k": k}, algorithm="HS256")
        self.good: dict[str, dict] = {}

    def claims(self, token: str) -> dict:
        claims = self.good.get(token)
        if claims is not None:
            if claims["exp"] <= time.time():
                raise jwt.ExpiredSignatureError()
            return claims
        claims = jwt.decode(token, self.key, algorithms=["HS256"], options=_REQUIRED)
        if len(self.good) >= self.REMEMBERED:
            self.good.clear()
        self.good[token] = claims
        return claims


def _verifier() -> _Verifier:
    verifier = current_app.extensions.get("fieldapi.jwt_verifier")
    if verifier is None:
        verifier = _Verifier(current_app.config["JWT_SECRET_KEY"])
        current_app.extensions["fieldapi.jwt_verifier"] = verifier
    return verifier


def _access_claims() -> dict:
    """The claims of a valid, unexpired access token, or the problem that says why not."""
    token = _bearer()
    try:
        claims = _verifier().claims(token)
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
