"""Reading the audit trail: reviewers see the events of what lies in their scope."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from fieldapi.audit.models import AuditEvent
from fieldapi.auth.guard import actor
from fieldapi.core import db as database
from fieldapi.core import scope
from fieldapi.core.pagination import PageArgs, paginate
from fieldapi.core.permissions import requires
from fieldapi.core.schemas import PageSchema

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="The audit trail")

# An event is seen where its building is; events about no building are for admins alone.
scope.register_building_child(AuditEvent)


class AuditListArgs(PageArgs):
    object_type = fields.String(validate=validate.Length(min=1, max=32))
    object_id = fields.String(validate=validate.Length(min=1, max=64))
    building_id = fields.UUID()

    @validates_schema
    def _named(self, data, **_kwargs):
        if "object_id" in data and "object_type" not in data:
            raise ValidationError("Name the object's type too.", "object_type")


class AuditEventSchema(Schema):
    seq = fields.Integer()
    at = fields.DateTime()
    actor_id = fields.UUID(allow_none=True)
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String()
    building_id = fields.UUID(allow_none=True)
    digest = fields.String()
    prev_hash = fields.String()
    hash = fields.String()


class AuditPageSchema(PageSchema):
    items = fields.List(fields.Nested(AuditEventSchema))


def list_events(db: Session, actor, args) -> tuple[list[AuditEvent], str | None]:
    stmt = scope.scoped(actor, AuditEvent)
    if "object_type" in args:
        stmt = stmt.where(AuditEvent.object_type == args["object_type"])
    if "object_id" in args:
        stmt = stmt.where(AuditEvent.object_id == args["object_id"])
    if "building_id" in args:
        stmt = stmt.where(AuditEvent.building_id == args["building_id"])
    return paginate(
        db,
        stmt,
        order_by=[AuditEvent.seq],
        key=lambda e: [e.seq],
        parse=[int],
        limit=args["limit"],
        cursor=args["cursor"],
    )


@blp.route("/events")
class AuditEvents(MethodView):
    @requires("audit.read")
    @blp.arguments(AuditListArgs, location="query")
    @blp.response(200, AuditPageSchema)
    def get(self, args):
        """The audit events of an object (or of a building), oldest first, each sealed with
        the hash of the one before it."""
        items, next_cursor = list_events(database.session(), actor(), args)
        return {"items": items, "next_cursor": next_cursor}
