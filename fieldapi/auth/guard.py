"""The gate every request passes before its view: declared verb, token, live session, role."""

from __future__ import annotations

import logging
import uuid

from flask import current_app, g, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request

from fieldapi.auth import service
from fieldapi.core import db as database
from fieldapi.core.permissions import AUTHENTICATED, PUBLIC, REFRESH, SCRAPER, can, current_verb
from fieldapi.core.problems import Forbidden, Problem
from fieldapi.core.scope import Actor
from fieldapi.ops.access import scraper_gate

log = logging.getLogger(__name__)


def _claims_ids() -> tuple[uuid.UUID, uuid.UUID]:
    claims = get_jwt()
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
    verify_jwt_in_request(refresh=verb == REFRESH)
    user_id, session_id = _claims_ids()
    if verb == REFRESH:
        g.refresh_claims = (user_id, session_id, get_jwt()["jti"])
        return
    live = service.active_session(database.session(), user_id=user_id, session_id=session_id)
    if live is None:
        raise Problem(slug="token-revoked")
    auth_session, user = live
    service.mark_used(
        current_app.extensions["fieldapi.engine"],
        auth_session=auth_session,
        generation=get_jwt().get("gen"),
    )
    g.actor = Actor(user_id=user.id, username=user.username, role=user.role, session_id=session_id)
    if verb != AUTHENTICATED and not can(user.role, verb):
        raise Forbidden()


def actor() -> Actor:
    return g.actor
