"""Operations: liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import logging

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

from fieldapi.core.permissions import public
from fieldapi.core.problems import ServiceUnavailable
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
