"""The sync page and the compact shapes of the objects a phone keeps offline.

These shapes are lighter than the REST answers: no links, no derived flags that need other
records, results of inspections listed only where they say more than "passed", submissions
with their last decision rather than their whole history (read online). Times are UTC to
the second (``2026-12-03T09:15:00Z``). A field without a value is ``null``, except those
documented as left out.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from fieldapi.review.schemas import InboxItemSchema
from fieldapi.sync.service import DEFAULT_LIMIT, MAX_LIMIT


def _doc(text: str) -> dict:
    return {"metadata": {"description": text}}


class SyncArgsSchema(Schema):
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=2048),
        **_doc("The `next_cursor` of the previous page, as given. Leave out for a full copy."),
    )
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        **_doc(
            "At most this many objects (or change records) are read for one page; the "
            "default is the largest."
        ),
    )


class SyncLocationSchema(Schema):
    lat = fields.Float()
    lon = fields.Float()


class SyncTemplateItemSchema(Schema):
    code = fields.String()
    label = fields.Dict(keys=fields.String(), values=fields.String(), **_doc("zh and en."))
    category = fields.String()
    severity = fields.String()
    photo_required = fields.Boolean()


class SyncTemplateSchema(Schema):
    """A checklist template version. Every version is sent (inspections name the one they
    used); the current template of a use type is its highest version."""

    id = fields.UUID()
    use_type = fields.String()
    version = fields.Integer()
    name = fields.String()
    items = fields.List(fields.Nested(SyncTemplateItemSchema))


class SyncResidentSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    id_number = fields.String(allow_none=True, **_doc("Masked unless your role registers people."))
    phone = fields.String(allow_none=True, **_doc("Masked unless your role registers people."))
    kind = fields.String()
    is_tenant = fields.Boolean()
    registered_on = fields.Date(allow_none=True)


class SyncUnitSchema(Schema):
    id = fields.UUID()
    label = fields.String()
    floor = fields.Integer()
    area_m2 = fields.Float(allow_none=True)
    use = fields.String(allow_none=True)
    residents = fields.List(fields.Nested(SyncResidentSchema))


class SyncShopSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    licence_number = fields.String(allow_none=True)
    business_type = fields.String()
    operator_name = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    floor = fields.Integer(allow_none=True)


class SyncEquipmentSchema(Schema):
    id = fields.UUID()
    kind = fields.String()
    count = fields.Integer()
    location = fields.String(allow_none=True)
    last_service_on = fields.Date(allow_none=True)
    expires_on = fields.Date(allow_none=True)
    photo_id = fields.UUID(allow_none=True)


class SyncBuildingSchema(Schema):
    """The building file with its units (residents masked as for your role), shops and
    equipment. Its history and timeline are not sent: read them online."""

    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    address = fields.String()
    grid_id = fields.UUID()
    location = fields.Nested(SyncLocationSchema)
    use_type = fields.String()
    floors_above = fields.Integer()
    floors_below = fields.Integer()
    height_m = fields.Float(allow_none=True)
    structure = fields.String(allow_none=True)
    year_built = fields.Integer(allow_none=True)
    floor_area_m2 = fields.Float(allow_none=True)
    responsibility = fields.Dict(**_doc("owner, manager, safety_officer: {name, phone}."))
    statement_signed_on = fields.Date(allow_none=True)
    statement_photo_id = fields.UUID(allow_none=True)
    self_check_interval_days = fields.Integer()
    next_self_check_due_at = fields.DateTime(allow_none=True)
    last_inspected_at = fields.DateTime(allow_none=True)
    risk_level = fields.String()
    notes = fields.String(allow_none=True)
    version = fields.Integer()
    units = fields.List(fields.Nested(SyncUnitSchema))
    shops = fields.List(fields.Nested(SyncShopSchema))
    equipment = fields.List(fields.Nested(SyncEquipmentSchema))


class SyncResultSchema(Schema):
    code = fields.String()
    result = fields.String(validate=validate.OneOf(("pass", "fail", "na")))
    note = fields.String(**_doc("Left out when there is none."))
    photo_ids = fields.List(fields.UUID(), **_doc("Left out when there are none."))


class SyncInspectionSchema(Schema):
    """An inspection with its results in compact form: `results` lists only the items that
    failed, were not applicable, or passed with a note or photos; `unchecked` (left out when
    empty) the template items with no result. Every other item of its template passed.
    `stage` is the stage of its submission (null while a draft); the submission itself, with
    its history, is under `submissions`."""

    id = fields.UUID()
    building_id = fields.UUID()
    kind = fields.String()
    template_id = fields.UUID()
    inspector_id = fields.UUID()
    performed_at = fields.DateTime()
    location = fields.Nested(SyncLocationSchema, allow_none=True)
    note = fields.String(allow_none=True)
    status = fields.String()
    version = fields.Integer()
    stage = fields.String(allow_none=True)
    results = fields.List(fields.Nested(SyncResultSchema))
    unchecked = fields.List(
        fields.String(), metadata={"description": "Codes not checked. Left out when empty."}
    )


class SyncHazardSchema(Schema):
    """A hazard; `stage` is the stage of its own submission (reported hazards), else null."""

    id = fields.UUID()
    building_id = fields.UUID()
    source = fields.String()
    inspection_id = fields.UUID(allow_none=True)
    item_code = fields.String(allow_none=True)
    category = fields.String()
    severity = fields.String()
    description = fields.String()
    photo_ids = fields.List(fields.UUID())
    location = fields.Nested(SyncLocationSchema, allow_none=True)
    reported_by = fields.UUID()
    reported_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)
    status = fields.String()
    closed_at = fields.DateTime(allow_none=True)
    version = fields.Integer()
    stage = fields.String(allow_none=True)


class SyncRectificationSchema(Schema):
    """A rectification of a hazard (its building is the hazard's), with its review stage."""

    id = fields.UUID()
    hazard_id = fields.UUID()
    note = fields.String()
    photo_ids = fields.List(fields.UUID())
    submitted_by = fields.UUID()
    status = fields.String()
    created_at = fields.DateTime()
    version = fields.Integer()
    stage = fields.String(allow_none=True)


class SyncSubjectSchema(Schema):
    type = fields.String(validate=validate.OneOf(("inspection", "hazard", "rectification")))
    id = fields.UUID()


class SyncDecisionSchema(Schema):
    """The latest step of a submission's history."""

    decision = fields.String(**_doc("submit, resubmit, approve, return or reopen."))
    stage = fields.String(**_doc("The stage the submission entered."))
    actor_id = fields.UUID()
    at = fields.DateTime()
    reason = fields.String(**_doc("Left out when there is none."))
    items = fields.List(fields.String(), **_doc("Checklist codes at issue; left out if none."))


class SyncSubmissionSchema(Schema):
    """A submission in the review chain as it stands: its stage, route, due time, version
    (for `If-Match`) and the last decision taken on it. Its whole history is not sent: read
    it online (`GET /api/v1/submissions/{id}`, or the building's timeline). Its building is
    its subject's."""

    id = fields.UUID()
    subject = fields.Nested(SyncSubjectSchema)
    stage = fields.String()
    route = fields.List(fields.String())
    escalated = fields.Boolean()
    stage_due_at = fields.DateTime(allow_none=True)
    version = fields.Integer()
    last_decision = fields.Nested(SyncDecisionSchema)


class SyncPhotoSchema(Schema):
    """A photo's facts (not its bytes or links: ask `GET /api/v1/photos/{id}` for those), with
    the flags judged for its uses in your scope."""

    id = fields.UUID()
    status = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    captured_at = fields.DateTime(allow_none=True)
    location = fields.Nested(SyncLocationSchema, allow_none=True)
    flags = fields.List(fields.String())


def _delta(name: str, item: type[Schema]) -> type[Schema]:
    return Schema.from_dict(
        {
            "upserted": fields.List(
                fields.Nested(item), **_doc("Objects new or changed: store them whole.")
            ),
            "deleted": fields.List(
                fields.UUID(), **_doc("Ids to forget: deleted, or no longer in your scope.")
            ),
        },
        name=name,
    )


class SyncChangesSchema(Schema):
    templates = fields.Nested(_delta("SyncTemplates", SyncTemplateSchema))
    buildings = fields.Nested(_delta("SyncBuildings", SyncBuildingSchema))
    inspections = fields.Nested(_delta("SyncInspections", SyncInspectionSchema))
    hazards = fields.Nested(_delta("SyncHazards", SyncHazardSchema))
    rectifications = fields.Nested(_delta("SyncRectifications", SyncRectificationSchema))
    submissions = fields.Nested(_delta("SyncSubmissions", SyncSubmissionSchema))
    photos = fields.Nested(_delta("SyncPhotos", SyncPhotoSchema))


class SyncPageSchema(Schema):
    changes = fields.Nested(SyncChangesSchema)
    next_cursor = fields.String(**_doc("Pass it back for the next page or the next pull."))
    has_more = fields.Boolean(**_doc("true: ask again now with next_cursor."))
    inbox = fields.List(
        fields.Nested(InboxItemSchema),
        **_doc(
            "Your whole inbox, on the last page of a pull that brought anything, when it "
            "differs from the one last sent along this line of cursors (a first copy always "
            "brings it); left out otherwise: keep the one you have."
        ),
    )
