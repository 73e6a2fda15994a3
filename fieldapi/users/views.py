"""Accounts (admin)."""

from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from fieldapi.auth.guard import actor
from fieldapi.core import db as database
from fieldapi.core.http import with_etag
from fieldapi.core.permissions import requires
from fieldapi.users import service
from fieldapi.users.schemas import (
    UserCreateSchema,
    UserListArgs,
    UserPageSchema,
    UserSchema,
    UserUpdateSchema,
)

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="Accounts (admin)")


def _passwords():
    return current_app.extensions["fieldapi.passwords"]


@blp.route("")
class Users(MethodView):
    @requires("user.read")
    @blp.arguments(UserListArgs, location="query")
    @blp.response(200, UserPageSchema)
    def get(self, args):
        """List accounts, by username."""
        items, next_cursor = service.list_users(
            db=database.session(),
            actor=actor(),
            role=args.get("role"),
            q=args.get("q"),
            limit=args["limit"],
            cursor=args["cursor"],
        )
        return {"items": items, "next_cursor": next_cursor}

    @requires("user.write")
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    @blp.alt_response(200, schema=UserSchema, description="This id already names this account.")
    @blp.alt_response(409, description="The id names another account, or the username is taken.")
    def post(self, body):
        """Create an account with its role and its areas (or buildings, for managers)."""
        user, created = service.open_user(
            db=database.session(), passwords=_passwords(), data=body, actor=actor()
        )
        return with_etag(user, service.user_etag(user), 201 if created else 200)


@blp.route("/<uuid:user_id>")
class UserItem(MethodView):
    @requires("user.read")
    @blp.response(200, UserSchema)
    def get(self, user_id):
        """One account."""
        user = service.get_user(db=database.session(), actor=actor(), user_id=user_id)
        return with_etag(user, service.user_etag(user))

    @requires("user.write")
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    @blp.alt_response(412, description="The account changed since it was read.")
    @blp.alt_response(428, description="If-Match is required.")
    def patch(self, body, user_id):
        """Change an account. A new password, role or deactivation ends its sessions."""
        user = service.update_user(
            db=database.session(),
            passwords=_passwords(),
            actor=actor(),
            user_id=user_id,
            data=body,
            if_match=request.headers.get("If-Match"),
        )
        return with_etag(user, service.user_etag(user))
