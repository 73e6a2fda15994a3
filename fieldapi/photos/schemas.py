from __future__ import annotations

from marshmallow import Schema, fields, validate

from fieldapi.core.schemas import LocationSchema
from fieldapi.photos.imaging.formats import ACCEPTED


class PhotoSlotRequestSchema(Schema):
    id = fields.UUID(required=True)
    sha256 = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9a-f]{64}$", error="64 lowercase hex characters."),
    )
    size = fields.Integer(required=True, validate=validate.Range(min=1))
    content_type = fields.String(
        required=True,
        validate=validate.OneOf(sorted(ACCEPTED), error="JPEG, PNG, WebP or HEIC photos only."),
    )


class UploadSchema(Schema):
    method = fields.String()
    url = fields.String()
    headers = fields.Dict(keys=fields.String(), values=fields.String())
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), values=fields.String())
    expires_at = fields.DateTime()


class PhotoUseSchema(Schema):
    subject_type = fields.String()
    subject_id = fields.UUID()
    building_id = fields.UUID()
    attached_at = fields.DateTime()
    flags = fields.List(fields.String())
    details = fields.Dict(attribute="flag_details")


class RejectionSchema(Schema):
    reason = fields.String()
    detail = fields.String()


class PhotoSchema(Schema):
    id = fields.UUID()
    status = fields.String(validate=validate.OneOf(("pending", "stored", "verified", "rejected")))
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    format = fields.String(allow_none=True)
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    captured_at = fields.DateTime(allow_none=True)
    location = fields.Nested(LocationSchema, allow_none=True)
    device = fields.String(allow_none=True)
    flags = fields.List(fields.String())
    uses = fields.List(fields.Nested(PhotoUseSchema))
    thumbnail_url = fields.String(allow_none=True)
    display_url = fields.String(allow_none=True)
    original_url = fields.String(allow_none=True)
    upload = fields.Nested(UploadSchema, allow_none=True)
    rejection = fields.Nested(RejectionSchema, allow_none=True)
    created_at = fields.DateTime()
    verified_at = fields.DateTime(allow_none=True)


class LinkArgs(Schema):
    token = fields.String(required=True, validate=validate.Length(max=512))
