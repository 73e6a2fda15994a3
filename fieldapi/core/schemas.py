"""Schemas shared by every domain: problems, pages, locations, people."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

PHONE = validate.Regexp(r"^\+?[0-9][0-9 -]{4,30}$", error="Not a phone number.")


class Whole(fields.Integer):
    """A JSON integer: ``"9"`` and ``9.5`` are refused, not coerced."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)


class Number(fields.Float):
    """A JSON number: a string that looks like one, or a boolean, is refused, not coerced."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class ProblemFieldSchema(Schema):
    pointer = fields.String(
        required=True, metadata={"description": "JSON Pointer to the field ('' for the whole)."}
    )
    detail = fields.String(required=True)
    location = fields.String(
        metadata={"description": "Where the field was sent, when not in the JSON body: query."}
    )


class ProblemSchema(Schema):
    """An error (RFC 9457). Clients match on the slug that ends ``type``."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.List(
        fields.Nested(ProblemFieldSchema),
        metadata={"description": "Each invalid field, when the problem is about fields."},
    )
    reason = fields.String(
        metadata={"description": "Why a photo was refused, as a stable code (photo problems)."}
    )


class LocationSchema(Schema):
    """WGS84 latitude and longitude, as JSON numbers."""

    lat = Number(required=True, validate=validate.Range(min=-90, max=90))
    lon = Number(required=True, validate=validate.Range(min=-180, max=180))


class ContactSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE)


class PageSchema(Schema):
    next_cursor = fields.String(allow_none=True)
