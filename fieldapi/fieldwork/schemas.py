"""Inspections, hazards and rectifications as the phone sends and reads them."""

from __future__ import annotations

from datetime import timedelta

from marshmallow import Schema, ValidationError, fields, validate

from fieldapi.checklists.models import SEVERITIES
from fieldapi.checklists.schemas import CATEGORY, ITEM_CODE
from fieldapi.core.db import utcnow
from fieldapi.core.pagination import PageArgs
from fieldapi.core.schemas import LocationSchema, PageSchema
from fieldapi.fieldwork.models import (
    HAZARD_STATUSES,
    INSPECTION_KINDS,
    INSPECTION_STATUSES,
    RESULTS,
)
from fieldapi.fieldwork.timeline import KINDS as TIMELINE_KINDS
from fieldapi.review.models import STAGES

NOTE = validate.Length(max=2000)
MAX_PHOTOS = 20
CLOCK_SKEW = timedelta(minutes=10)


class PastTime(fields.AwareDateTime):
    """An ISO 8601 time with its offset, not in the future (beyond a little clock skew)."""

    def _deserialize(self, value, attr, data, **kwargs):
        when = super()._deserialize(value, attr, data, **kwargs)
        if when > utcnow() + CLOCK_SKEW:
            raise ValidationError("This time is in the future.")
        return when


def _distinct(value: list) -> None:
    if len(set(value)) != len(value):
        raise ValidationError("A photo is named twice.")


def _photo_ids(least: int = 0, **kwargs):
    return fields.List(
        fields.UUID(),
        validate=[validate.Length(min=least, max=MAX_PHOTOS), _distinct],
        **kwargs,
    )


class ResultSchema(Schema):
    code = fields.String(required=True, validate=ITEM_CODE)
    result = fields.String(required=True, validate=validate.OneOf(RESULTS))
    note = fields.String(load_default=None, allow_none=True, validate=NOTE)
    photo_ids = _photo_ids(load_default=list)


class ResultOutSchema(ResultSchema):
    photo_flags = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class InspectionCreateSchema(Schema):
    id = fields.UUID(required=True)
    building_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(INSPECTION_KINDS))
    template_id = fields.UUID(load_default=None, allow_none=True)
    performed_at = PastTime(required=True)
    location = fields.Nested(LocationSchema, load_default=None, allow_none=True)
    note = fields.String(load_default=None, allow_none=True, validate=NOTE)
    items = fields.List(
        fields.Nested(ResultSchema), required=True, validate=validate.Length(max=100)
    )


class InspectionUpdateSchema(Schema):
    performed_at = PastTime()
    location = fields.Nested(LocationSchema, allow_none=True)
    note = fields.String(allow_none=True, validate=NOTE)
    items = fields.List(fields.Nested(ResultSchema), validate=validate.Length(max=100))


class SubmissionRefMixin:
    submission_id = fields.UUID(allow_none=True)
    stage = fields.String(allow_none=True, validate=validate.OneOf(STAGES))
    waiting_for = fields.List(fields.UUID())


class InspectionSchema(SubmissionRefMixin, Schema):
    id = fields.UUID()
    building_id = fields.UUID()
    kind = fields.String()
    template_id = fields.UUID()
    template_version = fields.Integer()
    inspector_id = fields.UUID()
    performed_at = fields.DateTime()
    location = fields.Nested(LocationSchema, allow_none=True)
    note = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(INSPECTION_STATUSES))
    submitted_at = fields.DateTime(allow_none=True)
    items = fields.List(fields.Nested(ResultOutSchema))
    failed = fields.List(fields.String())
    hazard_ids = fields.List(fields.UUID())
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class InspectionListArgs(PageArgs):
    building_id = fields.UUID()
    kind = fields.String(validate=validate.OneOf(INSPECTION_KINDS))
    status = fields.String(validate=validate.OneOf(INSPECTION_STATUSES))
    mine = fields.Boolean(load_default=False)


class InspectionPageSchema(PageSchema):
    items = fields.List(fields.Nested(InspectionSchema))


class SubmitAnswerSchema(InspectionSchema):
    """The inspection after submit: in review, or waiting for the photos named."""


class HazardReportSchema(Schema):
    id = fields.UUID(required=True)
    building_id = fields.UUID(required=True)
    category = fields.String(required=True, validate=CATEGORY)
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    description = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    photo_ids = _photo_ids(1, required=True)
    location = fields.Nested(LocationSchema, load_default=None, allow_none=True)
    observed_at = PastTime(load_default=None, allow_none=True)


class HazardSchema(SubmissionRefMixin, Schema):
    id = fields.UUID()
    building_id = fields.UUID()
    source = fields.String()
    inspection_id = fields.UUID(allow_none=True)
    item_code = fields.String(allow_none=True)
    category = fields.String()
    severity = fields.String()
    description = fields.String()
    photo_ids = fields.List(fields.UUID())
    photo_flags = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    location = fields.Nested(LocationSchema, allow_none=True)
    reported_by = fields.UUID()
    reported_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    status = fields.String(validate=validate.OneOf(HAZARD_STATUSES))
    closed_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class HazardListArgs(PageArgs):
    building_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(HAZARD_STATUSES))
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    overdue = fields.Boolean(load_default=None, allow_none=True)


class HazardPageSchema(PageSchema):
    items = fields.List(fields.Nested(HazardSchema))


class RectificationCreateSchema(Schema):
    id = fields.UUID(required=True)
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    photo_ids = _photo_ids(1, required=True)


class RectificationSchema(SubmissionRefMixin, Schema):
    id = fields.UUID()
    hazard_id = fields.UUID()
    building_id = fields.UUID()
    note = fields.String()
    photo_ids = fields.List(fields.UUID())
    photo_flags = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    submitted_by = fields.UUID()
    status = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class RectificationListSchema(Schema):
    items = fields.List(fields.Nested(RectificationSchema))


class TimelineEntrySchema(Schema):
    kind = fields.String(validate=validate.OneOf(TIMELINE_KINDS))
    id = fields.UUID()
    at = fields.DateTime()
    actor_id = fields.UUID()
    summary = fields.Dict()


class TimelinePageSchema(PageSchema):
    items = fields.List(fields.Nested(TimelineEntrySchema))


class ResubmitSchema(Schema):
    note = fields.String(validate=validate.Length(min=1, max=2000))
    description = fields.String(validate=validate.Length(min=1, max=2000))
    photo_ids = _photo_ids(1)
