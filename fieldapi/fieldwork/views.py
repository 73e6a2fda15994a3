"""Field work: inspections, hazards, rectifications, and the timeline of a building."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from fieldapi.auth.guard import actor
from fieldapi.core import db as database
from fieldapi.core.http import conditional, with_etag
from fieldapi.core.pagination import PageArgs
from fieldapi.core.permissions import requires
from fieldapi.fieldwork import (
    hazards,
    inspection_submission,
    inspections,
    photo_arrival,  # noqa: F401 (registered with photo verification: the last photo submits)
    rectifications,
    timeline,
)
from fieldapi.fieldwork.policy import Policy
from fieldapi.fieldwork.present import (
    content_etag,
    present_hazard,
    present_hazards,
    present_inspection,
    present_inspections,
    present_rectification,
    present_rectifications,
)
from fieldapi.fieldwork.schemas import (
    HazardListArgs,
    HazardPageSchema,
    HazardReportSchema,
    HazardSchema,
    InspectionCreateSchema,
    InspectionListArgs,
    InspectionPageSchema,
    InspectionSchema,
    InspectionUpdateSchema,
    RectificationCreateSchema,
    RectificationListSchema,
    RectificationSchema,
    TimelinePageSchema,
)

blp = Blueprint("fieldwork", __name__, url_prefix="/api/v1", description="Field work")

WAITING = "Submitted, waiting for the photos in waiting_for to finish uploading."


@blp.route("/inspections")
class Inspections(MethodView):
    @requires("inspection.read")
    @blp.arguments(InspectionListArgs, location="query")
    @blp.response(200, InspectionPageSchema)
    def get(self, args):
        """Inspections in your scope, newest first; filter by building, kind, status or mine."""
        db = database.session()
        items, next_cursor = inspections.list_inspections(
            db=db, actor=actor(), filters=args, limit=args["limit"], cursor=args["cursor"]
        )
        return {"items": present_inspections(db, items), "next_cursor": next_cursor}

    @requires("inspection.write")
    @blp.arguments(InspectionCreateSchema)
    @blp.response(201, InspectionSchema)
    @blp.alt_response(200, schema=InspectionSchema, description="This id already names it.")
    @blp.alt_response(409, description="The id names other content, or no template exists.")
    def post(self, body):
        """Record an inspection as a draft: a result per checklist item, notes and photos.
        Without template_id, the current template for the building's use type is used."""
        db = database.session()
        inspection, created = inspections.open_inspection(db=db, actor=actor(), data=body)
        body = present_inspection(db, inspection)
        return with_etag(body, content_etag("inspection", body), 201 if created else 200)


@blp.route("/inspections/<uuid:inspection_id>")
class InspectionItem(MethodView):
    @requires("inspection.read")
    @blp.response(200, InspectionSchema)
    @blp.alt_response(304, description="Unchanged since the ETag in If-None-Match.")
    def get(self, inspection_id):
        """One inspection, with its results, photo flags and where it is in review."""
        db = database.session()
        inspection = inspections.get_inspection(db=db, actor=actor(), inspection_id=inspection_id)
        body = present_inspection(db, inspection)
        return conditional(body, content_etag("inspection", body))

    @requires("inspection.write")
    @blp.arguments(InspectionUpdateSchema)
    @blp.response(200, InspectionSchema)
    @blp.alt_response(409, description="In review: only a draft or a returned one changes.")
    @blp.alt_response(412, description="It changed since you loaded it.")
    @blp.alt_response(428, description="If-Match is required.")
    def patch(self, body, inspection_id):
        """Change a draft, or an inspection returned to you (If-Match required)."""
        db = database.session()
        inspection = inspections.update_inspection(
            db=db,
            actor=actor(),
            inspection_id=inspection_id,
            data=body,
            if_match=request.headers.get("If-Match"),
        )
        body = present_inspection(db, inspection)
        return with_etag(body, content_etag("inspection", body))


@blp.route("/inspections/<uuid:inspection_id>/submit")
class InspectionSubmit(MethodView):
    @requires("inspection.write")
    @blp.response(200, InspectionSchema)
    @blp.alt_response(202, schema=InspectionSchema, description=WAITING)
    def post(self, inspection_id):
        """Submit for review: failed items become hazards and a submission starts at its
        route's first stage. Resubmits a returned one. Photos still uploading: it waits (202)."""
        db = database.session()
        outcome = inspection_submission.submit_inspection(
            db=db, actor=actor(), inspection_id=inspection_id, policy=Policy.current()
        )
        inspection = outcome.subject
        body = present_inspection(db, inspection)
        return with_etag(
            body, content_etag("inspection", body), 202 if outcome.waiting_for else 200
        )


@blp.route("/hazards")
class Hazards(MethodView):
    @requires("hazard.read")
    @blp.arguments(HazardListArgs, location="query")
    @blp.response(200, HazardPageSchema)
    def get(self, args):
        """Hazards in your scope, newest first; filter by building, status, severity, overdue."""
        db = database.session()
        items, next_cursor = hazards.list_hazards(
            db=db, actor=actor(), filters=args, limit=args["limit"], cursor=args["cursor"]
        )
        return {"items": present_hazards(db, items), "next_cursor": next_cursor}

    @requires("hazard.report")
    @blp.arguments(HazardReportSchema)
    @blp.response(201, HazardSchema)
    @blp.alt_response(200, schema=HazardSchema, description="This id already names it.")
    @blp.alt_response(409, description="The id names another hazard.")
    def post(self, body):
        """Report a hazard seen on site, with photos; it goes into review at once."""
        db = database.session()
        outcome, created = hazards.report_hazard(
            db=db, actor=actor(), data=body, policy=Policy.current()
        )
        body = present_hazard(db, outcome.subject)
        return with_etag(body, content_etag("hazard", body), 201 if created else 200)


@blp.route("/hazards/<uuid:hazard_id>")
class HazardItem(MethodView):
    @requires("hazard.read")
    @blp.response(200, HazardSchema)
    @blp.alt_response(304, description="Unchanged since the ETag in If-None-Match.")
    def get(self, hazard_id):
        """One hazard: severity, deadline, whether it is overdue, and its state."""
        db = database.session()
        hazard = hazards.get_hazard(db=db, actor=actor(), hazard_id=hazard_id)
        body = present_hazard(db, hazard)
        return conditional(body, content_etag("hazard", body))


@blp.route("/hazards/<uuid:hazard_id>/rectifications")
class Rectifications(MethodView):
    @requires("hazard.read")
    @blp.response(200, RectificationListSchema)
    def get(self, hazard_id):
        """Every rectification of a hazard, oldest first."""
        db = database.session()
        items = rectifications.list_rectifications(db=db, actor=actor(), hazard_id=hazard_id)
        return {"items": present_rectifications(db, items)}

    @requires("rectification.write")
    @blp.arguments(RectificationCreateSchema)
    @blp.response(201, RectificationSchema)
    @blp.alt_response(200, schema=RectificationSchema, description="This id already names it.")
    @blp.alt_response(409, description="The hazard is not open, or one is already on its way.")
    def post(self, body, hazard_id):
        """Answer an open hazard with what was done and after-photos; it goes into review."""
        db = database.session()
        outcome, created = rectifications.rectify(
            db=db, actor=actor(), hazard_id=hazard_id, data=body, policy=Policy.current()
        )
        return present_rectification(db, outcome.subject), 201 if created else 200


@blp.route("/buildings/<uuid:building_id>/timeline")
class Timeline(MethodView):
    @requires("building.read")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, TimelinePageSchema)
    def get(self, args, building_id):
        """The building's safety checklist: inspections, hazards, rectifications and review
        decisions, newest first."""
        items, next_cursor = timeline.timeline(
            db=database.session(),
            actor=actor(),
            building_id=building_id,
            limit=args["limit"],
            cursor=args["cursor"],
        )
        return {"items": items, "next_cursor": next_cursor}
