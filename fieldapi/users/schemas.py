from __future__ import annotations

from marshmallow import Schema, fields, pre_load, validate

from fieldapi.auth.passwords import MIN_PASSWORD_LENGTH
from fieldapi.core.pagination import PageArgs
from fieldapi.core.permissions import ROLES
from fieldapi.core.schemas import PHONE, PageSchema

USERNAME = validate.Regexp(
    r"^[a-z0-9][a-z0-9._-]{1,63}$",
    error="Use 2 to 64 lowercase letters, digits, dots, dashes or underscores.",
)
PASSWORD = validate.Length(min=MIN_PASSWORD_LENGTH, max=256)
ID_LIST = validate.Length(max=500)


class UserSchema(Schema):
    id = fields.UUID(dump_only=True)
    username = fields.String(dump_only=True)
    display_name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    role = fields.String()
    active = fields.Boolean()
    area_ids = fields.List(fields.UUID())
    building_ids = fields.List(fields.UUID())
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class UserCreateSchema(Schema):
    id = fields.UUID(load_default=None)

    username = fields.String(required=True, validate=USERNAME)
    password = fields.String(required=True, load_only=True, validate=PASSWORD)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    display_name = fields.String(load_default=None, validate=validate.Length(max=120))
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE)
    active = fields.Boolean(load_default=True)
    area_ids = fields.List(fields.UUID(), load_default=list, validate=ID_LIST)
    building_ids = fields.List(fields.UUID(), load_default=list, validate=ID_LIST)

    @pre_load
    def _fold_username(self, data, **_kwargs):
        """Usernames are case-insensitive: "Wang.Li" is stored, and signs in, as "wang.li"."""
        if isinstance(data, dict) and isinstance(data.get("username"), str):
            data = {**data, "username": data["username"].strip().lower()}
        return data


class UserUpdateSchema(Schema):
    password = fields.String(load_only=True, validate=PASSWORD)
    role = fields.String(validate=validate.OneOf(ROLES))
    display_name = fields.String(allow_none=True, validate=validate.Length(max=120))
    phone = fields.String(allow_none=True, validate=PHONE)
    active = fields.Boolean()
    area_ids = fields.List(fields.UUID(), validate=ID_LIST)
    building_ids = fields.List(fields.UUID(), validate=ID_LIST)


class UserListArgs(PageArgs):
    role = fields.String(validate=validate.OneOf(ROLES))
    q = fields.String(validate=validate.Length(min=1, max=64))


class UserPageSchema(PageSchema):
    items = fields.List(fields.Nested(UserSchema))
