"""Photo evidence: upload slot, upload, completion, and reading."""

from __future__ import annotations

from flask import current_app, redirect, request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from fieldapi.auth.guard import actor
from fieldapi.core import db as database
from fieldapi.core.permissions import public, requires
from fieldapi.core.problems import Forbidden, NotFound, ValidationFailed
from fieldapi.core.scope import Actor
from fieldapi.ops import metrics
from fieldapi.photos import access, links, uploads, verification
from fieldapi.photos.imaging.formats import ACCEPTED
from fieldapi.photos.models import Photo
from fieldapi.photos.schemas import LinkArgs, PhotoSchema, PhotoSlotRequestSchema
from storage import UploadInstruction

blp = Blueprint("photos", __name__, url_prefix="/api/v1/photos", description="Photo evidence")


def _ext(name: str):
    return current_app.extensions[f"fieldapi.{name}"]


def _upload(photo: Photo, instruction: UploadInstruction | None) -> dict | None:
    if photo.status != "pending":
        return None
    if instruction is not None:
        return {
            "method": instruction.method,
            "url": instruction.url,
            "headers": instruction.headers,
            "fields_": instruction.fields,
            "expires_at": instruction.expires_at,
        }
    return {
        "method": "PUT",
        "url": links.api_url("photos.PhotoContent", photo_id=photo.id),
        "headers": {"Content-Type": photo.content_type},
        "fields_": {},
        "expires_at": photo.upload_expires_at,
    }


def present(photo: Photo, me: Actor, instruction: UploadInstruction | None = None) -> dict:
    uses = access.uses_seen_by(database.session(), me, photo)
    verified = photo.status == "verified"
    return {
        "id": photo.id,
        "status": photo.status,
        "content_type": photo.content_type,
        "size": photo.size,
        "sha256": photo.sha256,
        "format": photo.format,
        "width": photo.width,
        "height": photo.height,
        "captured_at": photo.captured_at,
        "location": {"lat": photo.lat, "lon": photo.lon} if photo.lat is not None else None,
        "device": photo.device,
        "flags": access.flags_of(uses),
        "uses": uses,
        "thumbnail_url": links.variant_url(photo, "thumbnail") if verified else None,
        "display_url": links.variant_url(photo, "display") if verified else None,
        "original_url": (
            links.api_url("photos.PhotoOriginal", photo_id=photo.id)
            if verified and access.may_see_original(me)
            else None
        ),
        "upload": _upload(photo, instruction),
        "rejection": (
            {"reason": photo.rejection_reason, "detail": photo.rejection_detail}
            if photo.status == "rejected"
            else None
        ),
        "created_at": photo.created_at,
        "verified_at": photo.verified_at,
    }


@blp.route("")
class Photos(MethodView):
    @requires("photo.upload")
    @blp.arguments(PhotoSlotRequestSchema)
    @blp.response(201, PhotoSchema)
    @blp.alt_response(200, schema=PhotoSchema, description="This photo was already sent.")
    @blp.alt_response(409, description="Another photo already has this id.")
    def post(self, body):
        """Ask for an upload slot: the answer says where and how to send the bytes."""
        me = actor()
        settings = _ext("settings")
        slot = uploads.request_slot(
            db=database.session(),
            blobs=_ext("blobs"),
            actor=me,
            data=body,
            slot_minutes=settings.photo_slot_minutes,
            max_size=settings.max_upload_bytes,
        )
        return present(slot.photo, me, slot.upload), 201 if slot.created else 200


@blp.route("/<uuid:photo_id>")
class PhotoItem(MethodView):
    @requires("photo.read")
    @blp.response(200, PhotoSchema)
    def get(self, photo_id):
        """A photo's metadata, flags and short-lived links."""
        me = actor()
        return present(access.get_photo(db=database.session(), actor=me, photo_id=photo_id), me)


@blp.route("/<uuid:photo_id>/content")
class PhotoContent(MethodView):
    @requires("photo.upload")
    @blp.doc(
        requestBody={
            "required": True,
            "description": "The photo's bytes, exactly as declared (size and content type).",
            "content": {
                content_type: {"schema": {"type": "string", "format": "binary"}}
                for content_type in sorted(ACCEPTED)
            },
        }
    )
    @blp.response(204)
    @blp.alt_response(409, description="Already uploaded, or the slot has expired.")
    @blp.alt_response(413, description="Larger than declared.")
    def put(self, photo_id):
        """Upload the bytes through the API (the embedded store, or phones that cannot reach
        the object store). Send exactly the declared size and content type."""
        photo = access.own_photo(db=database.session(), actor=actor(), photo_id=photo_id)
        # The body may be as large as declared, and no larger (413 above it). The limit is
        # one byte more: a server that ends the body itself (gunicorn) turns the limit into
        # a hard stop, and a read at exactly the limit would be refused before the store
        # could see that the body had ended. The store refuses the extra byte (TooLarge).
        request.max_content_length = photo.size + 1
        uploads.receive_upload(
            blobs=_ext("blobs"),
            photo=photo,
            stream=request.stream,
            content_type=request.mimetype or None,
        )


@blp.route("/<uuid:photo_id>/complete")
class PhotoComplete(MethodView):
    @requires("photo.upload")
    @blp.response(200, PhotoSchema)
    @blp.alt_response(409, description="The bytes have not arrived yet.")
    @blp.alt_response(422, description="Not an accepted image, or not what was declared.")
    def post(self, photo_id):
        """Verify the uploaded photo and make its display image and thumbnail."""
        me = actor()
        db = database.session()
        # Counted once, when this call decides: completing again repeats the verdict.
        before = access.own_photo(db=db, actor=me, photo_id=photo_id).status
        try:
            photo = verification.complete(db=db, blobs=_ext("blobs"), actor=me, photo_id=photo_id)
        except ValidationFailed as exc:
            reason = exc.extensions.get("reason")
            if reason and before != "rejected":
                metrics.photo_rejected(reason)
            raise
        if before != "verified":
            metrics.photo_verified()
        return present(photo, me)


@blp.route("/<uuid:photo_id>/original")
class PhotoOriginal(MethodView):
    @requires("photo.original.read")
    @blp.response(200)
    @blp.alt_response(302, description="To a short-lived link to the original.")
    def get(self, photo_id):
        """The untouched original, for reviewers in scope. Every access is audited."""
        photo = access.open_original(db=database.session(), actor=actor(), photo_id=photo_id)
        blobs = _ext("blobs")
        filename = f"{photo.id}.{(photo.format or 'bin').lower()}"
        url = blobs.presign_get(photo.original_key, expires_in=60, filename=filename)
        if url is not None:
            return redirect(url, code=302)
        return send_file(
            blobs.open(photo.original_key),
            mimetype=photo.content_type,
            download_name=filename,
            max_age=0,
        )


@blp.route("/<uuid:photo_id>/<any(display, thumbnail):variant>")
class PhotoVariant(MethodView):
    @public
    @blp.arguments(LinkArgs, location="query")
    @blp.response(200)
    @blp.alt_response(403, description="The link has expired or is not valid.")
    def get(self, args, photo_id, variant):
        """A display image or thumbnail by signed link (local store)."""
        if not links.link_is_valid(args["token"], photo_id, variant):
            raise Forbidden("This photo link has expired. Open the photo again.")
        photo = database.session().get(Photo, photo_id)
        if photo is None or photo.status != "verified":
            raise NotFound()
        key = photo.display_key if variant == "display" else photo.thumbnail_key
        return send_file(
            _ext("blobs").open(key),
            mimetype="image/jpeg",
            max_age=_ext("settings").photo_link_seconds,
        )
