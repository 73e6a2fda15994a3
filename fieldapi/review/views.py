"""The review chain: submissions and decisions, the inbox, and the routing table."""

from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from fieldapi.auth.guard import actor
from fieldapi.core import db as database
from fieldapi.core.http import conditional, json_response, with_etag
from fieldapi.core.pagination import PageArgs
from fieldapi.core.permissions import requires
from fieldapi.fieldwork.policy import Policy
from fieldapi.fieldwork.resubmission import resubmit
from fieldapi.fieldwork.schemas import ResubmitSchema
from fieldapi.review import inbox, routing, service
from fieldapi.review.present import present, submission_etag
from fieldapi.review.schemas import (
    DecisionSchema,
    InboxPageSchema,
    RoutingTableSchema,
    SubmissionListArgs,
    SubmissionPageSchema,
    SubmissionSchema,
)

blp = Blueprint("review", __name__, url_prefix="/api/v1", description="The review chain")


def _stage_hours() -> int:
    return current_app.extensions["fieldapi.settings"].review_stage_hours


@blp.route("/submissions")
class Submissions(MethodView):
    @requires("submission.read")
    @blp.arguments(SubmissionListArgs, location="query")
    @blp.response(200, SubmissionPageSchema)
    def get(self, args):
        """Submissions in your scope, longest at their stage first; filter by stage, building,
        subject type, or your own."""
        items, next_cursor = service.list_submissions(
            db=database.session(),
            actor=actor(),
            filters=args,
            limit=args["limit"],
            cursor=args["cursor"],
        )
        return {"items": [present(s) for s in items], "next_cursor": next_cursor}


@blp.route("/submissions/<uuid:submission_id>")
class SubmissionItem(MethodView):
    @requires("submission.read")
    @blp.response(200, SubmissionSchema)
    @blp.alt_response(304, description="Unchanged since the ETag in If-None-Match.")
    def get(self, submission_id):
        """One submission: its stage, route, every transition, and time spent per stage."""
        submission = service.get_submission(
            db=database.session(), actor=actor(), submission_id=submission_id
        )
        return conditional(present(submission), submission_etag(submission))


@blp.route("/submissions/<uuid:submission_id>/decisions")
class Decisions(MethodView):
    @requires("submission.decide")
    @blp.arguments(DecisionSchema)
    @blp.response(200, SubmissionSchema)
    @blp.alt_response(403, description="Your role does not decide at this stage.")
    @blp.alt_response(409, description="This stage does not allow that decision.")
    @blp.alt_response(412, description="Someone decided first, or the submission changed.")
    @blp.alt_response(428, description="If-Match is required.")
    def post(self, body, submission_id):
        """Approve, return (reason required) or, for fire police on a closed one, reopen.
        If-Match must carry the submission's ETag."""
        submission = service.decide(
            db=database.session(),
            actor=actor(),
            submission_id=submission_id,
            decision=body["decision"],
            reason=body["reason"],
            items=body["items"],
            if_match=request.headers.get("If-Match"),
            stage_hours=_stage_hours(),
        )
        return with_etag(present(submission), submission_etag(submission))


@blp.route("/submissions/<uuid:submission_id>/resubmit")
class Resubmit(MethodView):
    @requires("submission.resubmit")
    @blp.arguments(ResubmitSchema)
    @blp.response(200, SubmissionSchema)
    @blp.alt_response(202, schema=SubmissionSchema, description="Waiting for photos.")
    @blp.alt_response(403, description="Only its submitter resubmits it.")
    @blp.alt_response(409, description="It is not returned.")
    @blp.alt_response(412, description="It changed since you loaded it.")
    @blp.alt_response(428, description="If-Match is required.")
    def post(self, body, submission_id):
        """Send returned work back into review, amended (note, description or photos),
        starting again at its route's first stage. If-Match: the submission's ETag."""
        db = database.session()
        outcome = resubmit(
            db=db,
            actor=actor(),
            submission_id=submission_id,
            data=body,
            if_match=request.headers.get("If-Match"),
            policy=Policy.current(),
        )
        submission = service.get_submission(db=db, actor=actor(), submission_id=submission_id)
        return with_etag(
            present(submission),
            submission_etag(submission),
            202 if outcome.waiting_for else 200,
        )


@blp.route("/inbox")
class Inbox(MethodView):
    @requires("inbox.read")
    @database.read_only
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, InboxPageSchema)
    def get(self, args):
        """What waits for you, soonest due first: reviews at your stage, work returned to
        you, self-checks due, hazards due; each with its building, subject and, for
        hazards, severity and title."""
        settings = current_app.extensions["fieldapi.settings"]
        items, next_cursor = inbox.shown(
            db=database.session(),
            actor=actor(),
            limit=args["limit"],
            cursor=args["cursor"],
            notice_days=settings.self_check_notice_days,
        )
        # Written by orjson in one pass; InboxPageSchema documents the same body.
        return json_response({"items": items, "next_cursor": next_cursor})


@blp.route("/routing-rules")
class RoutingRules(MethodView):
    @requires("routing.read")
    @blp.response(200, RoutingTableSchema)
    def get(self):
        """The routing table: the first rule that matches a submission names its stages."""
        table = routing.rules(database.session())
        return with_etag(
            {"rules": [routing.present_rule(r) for r in table]}, routing.rules_etag(table)
        )

    @requires("routing.write")
    @blp.arguments(RoutingTableSchema)
    @blp.response(200, RoutingTableSchema)
    @blp.alt_response(412, description="The table changed since you loaded it.")
    @blp.alt_response(428, description="If-Match is required.")
    def put(self, body):
        """Replace the routing table (If-Match). Submissions already in review keep their
        route; the new table routes what is submitted from now on."""
        table = routing.replace_rules(
            db=database.session(),
            actor=actor(),
            data=body["rules"],
            if_match=request.headers.get("If-Match"),
        )
        return with_etag(
            {"rules": [routing.present_rule(r) for r in table]}, routing.rules_etag(table)
        )
