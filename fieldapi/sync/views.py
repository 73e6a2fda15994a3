"""GET /api/v1/sync: the phone's offline copy of its scope, and what changed since."""

from __future__ import annotations

import orjson
from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from isal import isal_zlib

from fieldapi.auth.guard import actor
from fieldapi.core import db as database
from fieldapi.core.permissions import requires
from fieldapi.ops import metrics
from fieldapi.sync import service
from fieldapi.sync.encoding import JSON_OPTIONS, as_json_list
from fieldapi.sync.schemas import SyncArgsSchema, SyncPageSchema

blp = Blueprint("sync", __name__, url_prefix="/api/v1", description="Offline sync")

# Pages are large and mostly ids and times. Measured on a grid's full copy (21.6 MB in ten
# pages): zlib at level 6 gives 3.19 MB in 0.36 s of CPU, ISA-L's deflate at level 2 3.31 MB
# in 0.03 s: 4 % more bytes for a tenth of the CPU time. Small answers are not worth
# compressing.
GZIP_LEVEL = 2
GZIP_MIN_BYTES = 1024


def _accepts_gzip() -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


def _gzip(body: bytes) -> bytes:
    return isal_zlib.compress(body, GZIP_LEVEL, wbits=31)


def _answer(page: service.Page) -> Response:
    changes = {
        name: {"upserted": as_json_list(delta["upserted"]), "deleted": delta["deleted"]}
        for name, delta in page.changes.items()
    }
    body: dict = {
        "changes": changes,
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }
    if page.inbox is not None:
        body["inbox"] = page.inbox
    data = orjson.dumps(body, option=JSON_OPTIONS)
    response = Response(status=200, mimetype="application/json")
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = "no-store"
    if len(data) >= GZIP_MIN_BYTES and _accepts_gzip():
        data = _gzip(data)
        response.headers["Content-Encoding"] = "gzip"
    response.set_data(data)
    return response


@blp.route("/sync")
class Sync(MethodView):
    @requires("building.read")
    @blp.arguments(SyncArgsSchema, location="query")
    @blp.response(200, SyncPageSchema)
    @blp.alt_response(
        400,
        description="The cursor is not valid (`invalid-cursor`): altered, another account's, "
        "or older than the changes the server keeps. Start again without one.",
    )
    def get(self, args):
        """Everything in your scope (no cursor), or what changed in it since `cursor`: new and
        changed objects whole, and the ids of those deleted or no longer in your scope. Ask
        again with `next_cursor` while `has_more` is true. Compressed with gzip when you
        accept it."""
        settings = current_app.extensions["fieldapi.settings"]
        page = service.pull(
            db=database.session(),
            actor=actor(),
            secret=current_app.config["SECRET_KEY"],
            token=args["cursor"],
            limit=args["limit"],
            notice_days=settings.self_check_notice_days,
        )
        metrics.sync_page(cursor=args["cursor"] is not None)
        return _answer(page)
