"""The building file (一楼一档)."""

from __future__ import annotations

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from fieldapi.auth.guard import actor
from fieldapi.buildings import files, listing, service
from fieldapi.buildings.present import present, present_change
from fieldapi.buildings.schemas import (
    BuildingListArgs,
    BuildingPageSchema,
    BuildingSchema,
    BuildingUpdateSchema,
    BuildingWriteSchema,
    ChangePageSchema,
)
from fieldapi.core import db as database
from fieldapi.core.etag import matches_none
from fieldapi.core.http import json_response, with_etag
from fieldapi.core.pagination import PageArgs
from fieldapi.core.permissions import requires
from fieldapi.photos.flags import Limits

blp = Blueprint(
    "buildings", __name__, url_prefix="/api/v1/buildings", description="The building file"
)


def _photo_limits() -> Limits:
    return Limits.from_settings(current_app.extensions["fieldapi.settings"])


@blp.route("")
class Buildings(MethodView):
    @requires("building.read")
    @database.read_only
    @blp.arguments(BuildingListArgs, location="query")
    @blp.response(200, BuildingPageSchema)
    def get(self, args):
        """Buildings in your scope, by code; filter by grid, use, risk, overdue, or search."""
        items, next_cursor = listing.list_buildings(
            db=database.session(),
            actor=actor(),
            filters=args,
            limit=args["limit"],
            cursor=args["cursor"],
        )
        return json_response({"items": items, "next_cursor": next_cursor})

    @requires("building.create")
    @blp.arguments(BuildingWriteSchema)
    @blp.response(201, BuildingSchema)
    @blp.alt_response(
        200, schema=BuildingSchema, description="This id already names this same file."
    )
    @blp.alt_response(409, description="The code or the id is already used.")
    def post(self, body):
        """Open a building file in one of your grids."""
        me = actor()
        building, created = service.open_building(
            db=database.session(), actor=me, data=body, photo_limits=_photo_limits()
        )
        status = 201 if created else 200
        return with_etag(present(building, me), service.building_etag(building), status)


@blp.route("/<uuid:building_id>")
class BuildingItem(MethodView):
    @requires("building.read")
    @database.read_only
    @blp.response(200, BuildingSchema)
    @blp.alt_response(304, description="Unchanged since the ETag in If-None-Match.")
    def get(self, building_id):
        """The whole building file."""
        found = files.read(db=database.session(), actor=actor(), building_id=building_id)
        if matches_none(request.headers.get("If-None-Match"), found.etag):
            return Response(status=304, headers={"ETag": found.etag})
        return json_response(found.body(), headers={"ETag": found.etag})

    @requires("building.update")
    @blp.arguments(BuildingUpdateSchema)
    @blp.response(200, BuildingSchema)
    @blp.alt_response(412, description="The file changed since you loaded it.")
    @blp.alt_response(428, description="If-Match is required.")
    def patch(self, body, building_id):
        """Change the file (If-Match required). Every change is kept as a new version."""
        me = actor()
        building = service.update_building(
            db=database.session(),
            actor=me,
            building_id=building_id,
            data=body,
            if_match=request.headers.get("If-Match"),
            photo_limits=_photo_limits(),
        )
        return with_etag(present(building, me), service.building_etag(building))


@blp.route("/<uuid:building_id>/history")
class BuildingHistory(MethodView):
    @requires("building.history.read")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ChangePageSchema)
    def get(self, args, building_id):
        """Every version of the file, newest first: who changed which fields, old and new."""
        me = actor()
        items, next_cursor = service.list_changes(
            db=database.session(),
            actor=me,
            building_id=building_id,
            limit=args["limit"],
            cursor=args["cursor"],
        )
        return {"items": [present_change(c, me) for c in items], "next_cursor": next_cursor}
