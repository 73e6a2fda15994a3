"""The area tree and its grids. Admins write; every role reads the part it works in."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from fieldapi.areas import service
from fieldapi.areas.schemas import (
    AreaCreateSchema,
    AreaListArgs,
    AreaPageSchema,
    AreaSchema,
    AreaUpdateSchema,
    GridCreateSchema,
    GridListArgs,
)
from fieldapi.auth.guard import actor
from fieldapi.core import db as database
from fieldapi.core.http import conditional, with_etag
from fieldapi.core.permissions import requires

blp = Blueprint("areas", __name__, url_prefix="/api/v1", description="Areas and grids")


def _list(args, kind):
    items, next_cursor = service.list_areas(
        db=database.session(),
        actor=actor(),
        kind=kind,
        parent_id=args.get("parent_id"),
        limit=args["limit"],
        cursor=args["cursor"],
    )
    return {"items": items, "next_cursor": next_cursor}


def _one(area_id, kind=None):
    area = service.get_area(db=database.session(), actor=actor(), area_id=area_id, kind=kind)
    return conditional(area, service.area_etag(area))


def _update(body, area_id):
    area = service.update_area(
        db=database.session(),
        actor=actor(),
        area_id=area_id,
        data=body,
        if_match=request.headers.get("If-Match"),
    )
    return with_etag(area, service.area_etag(area))


@blp.route("/areas")
class Areas(MethodView):
    @requires("area.read")
    @blp.arguments(AreaListArgs, location="query")
    @blp.response(200, AreaPageSchema)
    def get(self, args):
        """Areas in your scope, in tree order."""
        return _list(args, args.get("kind"))

    @requires("area.write")
    @blp.arguments(AreaCreateSchema)
    @blp.response(201, AreaSchema)
    @blp.alt_response(200, schema=AreaSchema, description="This id already names this area.")
    @blp.alt_response(409, description="The id names another area, or the name or code is used.")
    def post(self, body):
        """Add a district, street, community or grid under its parent."""
        area, created = service.open_area(db=database.session(), data=body, actor=actor())
        return with_etag(area, service.area_etag(area), 201 if created else 200)


@blp.route("/areas/<uuid:area_id>")
class AreaItem(MethodView):
    @requires("area.read")
    @blp.response(200, AreaSchema)
    def get(self, area_id):
        """One area."""
        return _one(area_id)

    @requires("area.write")
    @blp.arguments(AreaUpdateSchema)
    @blp.response(200, AreaSchema)
    @blp.alt_response(412, description="The area changed since it was read.")
    @blp.alt_response(428, description="If-Match is required.")
    def patch(self, body, area_id):
        """Rename an area, change its code, or a grid's boundary (If-Match required)."""
        return _update(body, area_id)


@blp.route("/grids")
class Grids(MethodView):
    @requires("area.read")
    @blp.arguments(GridListArgs, location="query")
    @blp.response(200, AreaPageSchema)
    def get(self, args):
        """Grids in your scope, with their boundaries."""
        return _list(args, "grid")

    @requires("area.write")
    @blp.arguments(GridCreateSchema)
    @blp.response(201, AreaSchema)
    @blp.alt_response(200, schema=AreaSchema, description="This id already names this grid.")
    @blp.alt_response(409, description="The id names another area, or the name or code is used.")
    def post(self, body):
        """Add a grid to a community."""
        area, created = service.open_area(
            db=database.session(), data={**body, "kind": "grid"}, actor=actor()
        )
        return with_etag(area, service.area_etag(area), 201 if created else 200)


@blp.route("/grids/<uuid:grid_id>")
class GridItem(MethodView):
    @requires("area.read")
    @blp.response(200, AreaSchema)
    def get(self, grid_id):
        """One grid."""
        return _one(grid_id, kind="grid")

    @requires("area.write")
    @blp.arguments(AreaUpdateSchema)
    @blp.response(200, AreaSchema)
    @blp.alt_response(412, description="The area changed since it was read.")
    @blp.alt_response(428, description="If-Match is required.")
    def patch(self, body, grid_id):
        """Rename a grid or change its boundary (If-Match required)."""
        service.get_area(db=database.session(), actor=actor(), area_id=grid_id, kind="grid")
        return _update(body, grid_id)
