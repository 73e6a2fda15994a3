from __future__ import annotations

from marshmallow import Schema, fields, validate

from fieldapi.users.schemas import UserSchema


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=1024)
    )


class LogoutSchema(Schema):
    refresh_token = fields.String(load_default=None, validate=validate.Length(max=4096))


class TokensSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    token_type = fields.Constant("Bearer")


class LoginResultSchema(TokensSchema):
    user = fields.Nested(UserSchema, required=True)
