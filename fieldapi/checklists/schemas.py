"""Checklist templates as the phone reads them and an admin writes them."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fieldapi.buildings.models import USE_TYPES
from fieldapi.checklists.models import SEVERITIES
from fieldapi.core.pagination import PageArgs
from fieldapi.core.schemas import PageSchema

MAX_ITEMS = 100
ITEM_CODE = validate.Regexp(
    r"^[A-Z]{2,5}-\d{2}$", error="Two to five capital letters, a dash and two digits (EXT-01)."
)
CATEGORY = validate.Regexp(
    r"^[a-z][a-z0-9_]{1,31}$", error="2 to 32 lower-case letters, digits and underscores."
)
LABEL = validate.Length(min=1, max=200)


class JSONBoolean(fields.Boolean):
    """A JSON true or false: ``"yes"``, ``1`` and ``"true"`` are refused, not coerced."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class LabelSchema(Schema):
    zh = fields.String(required=True, validate=LABEL)
    en = fields.String(required=True, validate=LABEL)


class ChecklistItemSchema(Schema):
    code = fields.String(required=True, validate=ITEM_CODE)
    label = fields.Nested(LabelSchema, required=True)
    category = fields.String(required=True, validate=CATEGORY)
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    photo_required = JSONBoolean(required=True)


class TemplateCreateSchema(Schema):
    use_type = fields.String(required=True, validate=validate.OneOf(USE_TYPES))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    items = fields.List(
        fields.Nested(ChecklistItemSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_ITEMS),
    )

    @validates_schema
    def _codes_unique(self, data, **_kwargs):
        seen: set[str] = set()
        for index, item in enumerate(data.get("items") or ()):
            if item["code"] in seen:
                message = f"Code {item['code']} is already used by an earlier item."
                raise ValidationError({"items": {index: {"code": [message]}}})
            seen.add(item["code"])


class TemplateSchema(Schema):
    id = fields.UUID()
    use_type = fields.String()
    version = fields.Integer()
    name = fields.String()
    current = fields.Boolean()
    created_by = fields.UUID(allow_none=True)
    created_at = fields.DateTime()
    items = fields.List(fields.Nested(ChecklistItemSchema))


class TemplateListArgs(PageArgs):
    use_type = fields.String(validate=validate.OneOf(USE_TYPES))
    all_versions = fields.Boolean(load_default=False)


class TemplatePageSchema(PageSchema):
    items = fields.List(fields.Nested(TemplateSchema))
