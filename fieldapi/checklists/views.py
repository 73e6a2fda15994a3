"""Checklist templates. Every role reads them; admins save new versions."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from fieldapi.auth.guard import actor
from fieldapi.checklists import service
from fieldapi.checklists.schemas import (
    TemplateCreateSchema,
    TemplateListArgs,
    TemplatePageSchema,
    TemplateSchema,
)
from fieldapi.core import db as database
from fieldapi.core.http import conditional, with_etag
from fieldapi.core.permissions import requires

blp = Blueprint("checklists", __name__, url_prefix="/api/v1", description="Checklist templates")


@blp.route("/templates")
class Templates(MethodView):
    @requires("template.read")
    @blp.arguments(TemplateListArgs, location="query")
    @blp.response(200, TemplatePageSchema)
    def get(self, args):
        """The current template of each use type, or every version with all_versions=true."""
        rows, next_cursor = service.list_templates(
            db=database.session(),
            use_type=args.get("use_type"),
            all_versions=args["all_versions"],
            limit=args["limit"],
            cursor=args["cursor"],
        )
        items = [service.present(template, current) for template, current in rows]
        return {"items": items, "next_cursor": next_cursor}

    @requires("template.write")
    @blp.arguments(TemplateCreateSchema)
    @blp.response(201, TemplateSchema)
    def post(self, body):
        """Save the next version of a use type's template; earlier versions stay as they were."""
        template = service.create_template(db=database.session(), actor=actor(), data=body)
        return with_etag(
            service.present(template, True), service.template_etag(template, True), 201
        )


@blp.route("/templates/<uuid:template_id>")
class TemplateItem(MethodView):
    @requires("template.read")
    @blp.response(200, TemplateSchema)
    def get(self, template_id):
        """One template version, current or not."""
        template, current = service.get_template(db=database.session(), template_id=template_id)
        return conditional(
            service.present(template, current), service.template_etag(template, current)
        )
