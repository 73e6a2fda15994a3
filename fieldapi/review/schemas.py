"""Submissions, decisions, the routing table and the inbox."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fieldapi.checklists.models import SEVERITIES
from fieldapi.checklists.schemas import ITEM_CODE, JSONBoolean
from fieldapi.core.pagination import PageArgs
from fieldapi.core.schemas import PageSchema
from fieldapi.fieldwork.models import INSPECTION_KINDS
from fieldapi.review.inbox import KINDS
from fieldapi.review.models import DECISIONS, EVENTS, REVIEW_STAGES, STAGES, SUBJECT_TYPES


class SubjectSchema(Schema):
    type = fields.String(validate=validate.OneOf(SUBJECT_TYPES))
    id = fields.UUID()


class HistoryEntrySchema(Schema):
    seq = fields.Integer()
    decision = fields.String(validate=validate.OneOf(EVENTS))
    stage = fields.String(allow_none=True)
    to_stage = fields.String()
    actor_id = fields.UUID()
    actor_role = fields.String()
    reason = fields.String(allow_none=True)
    items = fields.List(fields.String())
    version = fields.Integer()
    at = fields.DateTime()


class SubmissionSchema(Schema):
    id = fields.UUID()
    subject = fields.Nested(SubjectSchema)
    building_id = fields.UUID()
    submitter_id = fields.UUID()
    stage = fields.String(validate=validate.OneOf(STAGES))
    route = fields.List(fields.String())
    escalated = fields.Boolean()
    submitted_at = fields.DateTime()
    stage_entered_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    closed_at = fields.DateTime(allow_none=True)
    version = fields.Integer()
    time_in_stages = fields.Dict(keys=fields.String(), values=fields.Float())
    history = fields.List(fields.Nested(HistoryEntrySchema))


class SubmissionListArgs(PageArgs):
    stage = fields.String(validate=validate.OneOf(STAGES))
    building_id = fields.UUID()
    subject_type = fields.String(validate=validate.OneOf(SUBJECT_TYPES))
    mine = fields.Boolean(load_default=False)


class SubmissionPageSchema(PageSchema):
    items = fields.List(fields.Nested(SubmissionSchema))


class DecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    items = fields.List(
        fields.String(validate=ITEM_CODE), load_default=list, validate=validate.Length(max=100)
    )


class RoutingRuleSchema(Schema):
    # As read; ignored on write, where the order of the list is the order of the rules.
    id = fields.UUID(allow_none=True)
    position = fields.Integer(allow_none=True)
    subject_type = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(SUBJECT_TYPES)
    )
    inspection_kind = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(INSPECTION_KINDS)
    )
    has_failed_items = JSONBoolean(load_default=None, allow_none=True)
    severities = fields.List(
        fields.String(validate=validate.OneOf(SEVERITIES)),
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=3),
    )
    stages = fields.List(
        fields.String(validate=validate.OneOf(REVIEW_STAGES)),
        required=True,
        validate=validate.Length(max=3),
    )
    description = fields.String(load_default="", validate=validate.Length(max=200))

    @validates_schema
    def _in_order(self, data, **_kwargs):
        stages = data.get("stages") or []
        if stages != sorted(set(stages), key=REVIEW_STAGES.index):
            raise ValidationError(
                "Stages go in the chain's order, each once: grid_review, office_review, "
                "police_review.",
                "stages",
            )
        if data.get("inspection_kind") and data.get("subject_type") not in (None, "inspection"):
            raise ValidationError(
                "An inspection kind applies to inspections only.", "inspection_kind"
            )


class RoutingTableSchema(Schema):
    rules = fields.List(
        fields.Nested(RoutingRuleSchema), required=True, validate=validate.Length(min=1, max=100)
    )

    @validates_schema
    def _ends_with_catch_all(self, data, **_kwargs):
        rules = data.get("rules") or []
        conditions = ("subject_type", "inspection_kind", "has_failed_items", "severities")
        if rules and any(rules[-1].get(name) is not None for name in conditions):
            raise ValidationError(
                "The last rule must match everything, so every submission has a route.",
                "rules",
            )


class InboxItemSchema(Schema):
    """What waits, by its ids and times (as sync sends the inbox)."""

    kind = fields.String(validate=validate.OneOf(KINDS))
    id = fields.UUID()
    submission_id = fields.UUID(allow_none=True)
    building_id = fields.UUID()
    hazard_id = fields.UUID(allow_none=True)
    stage = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    since = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()


class InboxBuildingSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    address = fields.String()


class InboxListItemSchema(InboxItemSchema):
    """What waits, with what a list shows of it: no other request is needed to show a row."""

    building = fields.Nested(InboxBuildingSchema, metadata={"description": "Where it waits."})
    subject = fields.Nested(
        SubjectSchema,
        allow_none=True,
        metadata={
            "description": "What is reviewed, returned or due: the submission's subject, or "
            "the hazard due; null for a self-check due."
        },
    )
    hours_waiting = fields.Float(
        allow_none=True,
        metadata={
            "description": "Reviews and returned work: hours since the submission entered "
            "its current stage, to a tenth; null otherwise."
        },
    )
    severity = fields.String(
        allow_none=True,
        validate=validate.OneOf(SEVERITIES),
        metadata={
            "description": "The severity of the hazard the item is about: the hazard due, or "
            "the hazard reported or rectified by the submission in review or returned; null "
            "for inspections and self-checks."
        },
    )
    title = fields.String(
        allow_none=True,
        metadata={
            "description": "A short title of that hazard, in Chinese: the label of the "
            "checklist item that failed, or the first line of the reporter's description cut "
            "to 40 characters, phone and identity numbers masked with *; null when severity is."
        },
    )


class InboxPageSchema(PageSchema):
    items = fields.List(fields.Nested(InboxListItemSchema))
