"""Sessions: sign in, refresh, sign out, and who am I."""

from __future__ import annotations

import uuid

from flask import current_app, g, request
from flask.views import MethodView
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_smorest import Blueprint
from jwt import PyJWTError

from fieldapi.auth import service
from fieldapi.auth.guard import actor
from fieldapi.auth.schemas import LoginResultSchema, LoginSchema, LogoutSchema, TokensSchema
from fieldapi.core import db as database
from fieldapi.core.http import json_response
from fieldapi.core.permissions import AUTHENTICATED, REFRESH, public, requires
from fieldapi.users import service as users
from fieldapi.users.schemas import UserSchema

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Sessions")


def _services():
    ext = current_app.extensions
    return ext["fieldapi.settings"], ext["fieldapi.passwords"], ext["fieldapi.throttle"]


@blp.route("/auth/login")
class Login(MethodView):
    @public
    @blp.arguments(LoginSchema)
    @blp.response(200, LoginResultSchema)
    @blp.alt_response(401, description="Wrong username or password (the same for both).")
    @blp.alt_response(429, description="Too many failed attempts; see Retry-After.")
    def post(self, body):
        """Sign in with username and password."""
        settings, passwords, throttle = _services()
        return service.login(
            db=database.session(),
            passwords=passwords,
            throttle=throttle,
            username=body["username"],
            password=body["password"],
            address=request.remote_addr or "unknown",
            user_agent=request.user_agent.string,
            access_minutes=settings.access_token_minutes,
            refresh_days=settings.refresh_token_days,
        )


@blp.route("/auth/refresh")
class Refresh(MethodView):
    @requires(REFRESH)
    @blp.response(200, TokensSchema)
    @blp.alt_response(401, description="The refresh token is unknown, spent or revoked.")
    def post(self):
        """Exchange the refresh token (as Bearer) for new tokens; the old one stops working."""
        settings, _passwords, _throttle = _services()
        user_id, session_id, jti = g.refresh_claims
        return service.refresh(
            db=database.session(),
            user_id=user_id,
            session_id=session_id,
            jti=jti,
            access_minutes=settings.access_token_minutes,
        )


def _session_of(refresh_token: str | None) -> uuid.UUID | None:
    if not refresh_token:
        return None
    try:
        claims = decode_token(refresh_token, allow_expired=True)
        return uuid.UUID(str(claims["sid"])) if claims.get("type") == "refresh" else None
    except (JWTExtendedException, PyJWTError, KeyError, ValueError):
        return None


@blp.route("/auth/logout")
class Logout(MethodView):
    @requires(AUTHENTICATED)
    @blp.arguments(LogoutSchema)
    @blp.response(204)
    def post(self, body):
        """Sign out: the access and refresh tokens stop working on every worker."""
        me = actor()
        service.logout(
            db=database.session(),
            user_id=me.user_id,
            session_id=me.session_id,
            refresh_session_id=_session_of(body.get("refresh_token")),
        )


@blp.route("/me")
class Me(MethodView):
    @requires(AUTHENTICATED)
    @database.read_only
    @blp.response(200, UserSchema)
    def get(self):
        """The signed-in user, with the areas or buildings that make up their scope."""
        return json_response(users.me(db=database.session(), actor=actor()))
