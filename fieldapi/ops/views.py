"""Operations: liveness and readiness for load balancers, metrics for Prometheus."""

from __future__ import annotations

import logging

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

from fieldapi.core.permissions import SCRAPER, public, requires
from fieldapi.core.problems import ServiceUnavailable
from fieldapi.ops import metrics
from storage.errors import StorageError

log = logging.getLogger(__name__)

blp = Blueprint("ops", __name__, description="Operations")


class HealthSchema(Schema):
    status = fields.String()
    checks = fields.Dict(keys=fields.String(), values=fields.String())


@blp.route("/health")
class Health(MethodView):
    @public
    @blp.response(200, HealthSchema)
    def get(self):
        """The process is up (no dependencies checked)."""
        return {"status": "ok"}


@blp.route("/ready")
class Ready(MethodView):
    @public
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, description="The database or the object store cannot be reached.")
    def get(self):
        """The database and the object store answer."""
        failed = []
        try:
            with current_app.extensions["fieldapi.engine"].connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            log.exception("readiness: database")
            failed.append("database")
        try:
            current_app.extensions["fieldapi.blobs"].ping()
        except StorageError:
            log.exception("readiness: object store")
            failed.append("object store")
        if failed:
            raise ServiceUnavailable(f"Not ready: {' and '.join(failed)} unreachable.")
        return {"status": "ready", "checks": {"database": "ok", "object_store": "ok"}}


@blp.route("/metrics")
class Metrics(MethodView):
    @requires(SCRAPER)
    @blp.response(200)
    @blp.doc(
        responses={
            "200": {
                "description": "The metrics, as text.",
                "content": {
                    media_type: {"schema": {"type": "string"}}
                    for media_type in ("text/plain", "application/openmetrics-text")
                },
            }
        }
    )
    @blp.alt_response(401, description="A metrics token is set and none was sent.")
    @blp.alt_response(
        403, description="Another token was sent; or none is set and the caller is not local."
    )
    def get(self):
        """Counters and latency histograms for Prometheus.

        Requests by route template, method and status; request latency by route template
        and method; photo verifications by outcome; sync pages served. The Prometheus text
        format, or OpenMetrics when the Accept header asks for it. With
        `FIELDAPI_METRICS_TOKEN` set, send it as a bearer token; unset, only callers on the
        server's own host may read this. Not for phones.
        """
        body, content_type = metrics.exposition(request.headers.get("Accept"))
        response = Response(body, content_type=content_type)
        response.headers["Cache-Control"] = "no-store"
        return response
