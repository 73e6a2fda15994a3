"""The building file as the phone sends and receives it."""

from __future__ import annotations

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates

from fieldapi.buildings.models import (
    EQUIPMENT_KINDS,
    RESIDENT_KINDS,
    RISK_LEVELS,
    STRUCTURES,
    USE_TYPES,
)
from fieldapi.core.pagination import PageArgs
from fieldapi.core.schemas import PHONE, ContactSchema, LocationSchema, Number, PageSchema, Whole

# Sent in any case, checked and stored in capitals (``BuildingCode``).
BUILDING_CODE = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9-]{1,39}$", error="Use 2 to 40 letters, digits and dashes."
)


class BuildingCode(fields.String):
    """A building code: ``ft-sw-0012`` is stored, compared and answered as ``FT-SW-0012``."""

    def _deserialize(self, value, attr, data, **kwargs):
        code = super()._deserialize(value, attr, data, **kwargs)
        # Only a-z become capitals: other letters (ſ, ı, ﬀ…) must not turn into A-Z lookalikes
        # of another building's code; the pattern refuses them as they are.
        return code.upper() if code.isascii() else code


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def check_id_number(value: str) -> None:
    """A resident identity card number (18 characters, checksum verified) or another document."""
    if len(value) == 18 and value[:17].isdigit():
        total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
        if _ID_CHECK[total % 11] != value[17].upper():
            raise ValidationError("The identity card number's check digit is wrong.")
        return
    if not (5 <= len(value) <= 20 and value.isascii() and value.isalnum()):
        raise ValidationError("Not an identity document number.")


def not_future(value: date) -> None:
    if value > date.today():
        raise ValidationError("Cannot be in the future.")


class ResponsibilitySchema(Schema):
    owner = fields.Nested(ContactSchema, allow_none=True)
    manager = fields.Nested(ContactSchema, allow_none=True)
    safety_officer = fields.Nested(ContactSchema, allow_none=True)


class StatementSchema(Schema):
    """The signed fire-safety responsibility statement: a document photo and its signing date."""

    signed_on = fields.Date(allow_none=True, validate=not_future)
    photo_id = fields.UUID(allow_none=True)


class ResidentSchema(Schema):
    id = fields.UUID(load_default=None)
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    id_number = fields.String(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE)
    kind = fields.String(required=True, validate=validate.OneOf(RESIDENT_KINDS))
    is_tenant = fields.Boolean(load_default=False)
    registered_on = fields.Date(load_default=None, allow_none=True, validate=not_future)

    @validates("id_number")
    def _id_number(self, value, **_kwargs):
        if value is not None:
            check_id_number(value)


class UnitSchema(Schema):
    id = fields.UUID(load_default=None)
    label = fields.String(required=True, validate=validate.Length(min=1, max=40))
    floor = Whole(required=True, validate=validate.Range(min=-20, max=200))
    area_m2 = Number(load_default=None, allow_none=True, validate=validate.Range(0, 100000))
    use = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    residents = fields.List(
        fields.Nested(ResidentSchema), load_default=list, validate=validate.Length(max=100)
    )


MASKED = "Masked (138****5678) unless your role registers people."


class ResidentOutSchema(ResidentSchema):
    """A resident as answers show one: personal numbers may be masked."""

    id_number = fields.String(allow_none=True, metadata={"description": MASKED})
    phone = fields.String(allow_none=True, metadata={"description": MASKED})


class UnitOutSchema(UnitSchema):
    residents = fields.List(fields.Nested(ResidentOutSchema))


class ShopSchema(Schema):
    id = fields.UUID(load_default=None)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    licence_number = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(r"^[0-9A-Z]{6,40}$")
    )
    business_type = fields.String(required=True, validate=validate.Length(min=1, max=60))
    operator_name = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=80)
    )
    contact_phone = fields.String(load_default=None, allow_none=True, validate=PHONE)
    floor = Whole(load_default=None, allow_none=True, validate=validate.Range(-20, 200))


class EquipmentSchema(Schema):
    id = fields.UUID(load_default=None)
    kind = fields.String(required=True, validate=validate.OneOf(EQUIPMENT_KINDS))
    count = Whole(load_default=1, validate=validate.Range(min=0, max=10000))
    location = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))
    last_service_on = fields.Date(load_default=None, allow_none=True, validate=not_future)
    expires_on = fields.Date(load_default=None, allow_none=True)
    photo_id = fields.UUID(load_default=None, allow_none=True)
    expired = fields.Boolean(dump_only=True)


class BuildingWriteSchema(Schema):
    """Fields a client may send. Unknown fields are refused."""

    id = fields.UUID(load_default=None)
    code = BuildingCode(
        required=True,
        validate=BUILDING_CODE,
        metadata={"description": "Letters, digits and dashes; stored in capitals."},
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    address = fields.String(required=True, validate=validate.Length(min=3, max=255))
    grid_id = fields.UUID(required=True)
    location = fields.Nested(LocationSchema, required=True)
    use_type = fields.String(required=True, validate=validate.OneOf(USE_TYPES))
    floors_above = Whole(validate=validate.Range(min=0, max=200))
    floors_below = Whole(validate=validate.Range(min=0, max=20))
    height_m = Number(allow_none=True, validate=validate.Range(min=0, max=1000))
    structure = fields.String(allow_none=True, validate=validate.OneOf(STRUCTURES))
    year_built = Whole(
        allow_none=True, validate=validate.Range(min=1800, max=date.today().year + 5)
    )
    floor_area_m2 = Number(allow_none=True, validate=validate.Range(min=0, max=10_000_000))
    responsibility = fields.Nested(ResponsibilitySchema)
    statement = fields.Nested(StatementSchema)
    units = fields.List(fields.Nested(UnitSchema), validate=validate.Length(max=2000))
    shops = fields.List(fields.Nested(ShopSchema), validate=validate.Length(max=300))
    equipment = fields.List(fields.Nested(EquipmentSchema), validate=validate.Length(max=1000))
    self_check_interval_days = Whole(validate=validate.Range(min=1, max=366))
    next_self_check_due_at = fields.AwareDateTime(allow_none=True)
    notes = fields.String(allow_none=True, validate=validate.Length(max=4000))


class BuildingUpdateSchema(BuildingWriteSchema):
    """Send only the fields that change; a list sent (units, shops, equipment) replaces the list.

    Only the top-level fields are optional: a location, a contact, a unit or a resident that
    is sent must still be whole.
    """

    class Meta:
        exclude = ("id",)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", tuple(BuildingWriteSchema._declared_fields))
        super().__init__(*args, **kwargs)


class SelfCheckSchema(Schema):
    interval_days = fields.Integer()
    next_due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()


class BuildingSchema(Schema):
    """The building file. Residents' id numbers and phones are masked for roles that do not
    register people (grid staff, fire office, fire police)."""

    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    address = fields.String()
    grid_id = fields.UUID()
    location = fields.Nested(LocationSchema)
    use_type = fields.String()
    floors_above = fields.Integer()
    floors_below = fields.Integer()
    height_m = fields.Float(allow_none=True)
    structure = fields.String(allow_none=True)
    year_built = fields.Integer(allow_none=True)
    floor_area_m2 = fields.Float(allow_none=True)
    responsibility = fields.Nested(ResponsibilitySchema)
    statement = fields.Nested(StatementSchema)
    units = fields.List(fields.Nested(UnitOutSchema))
    shops = fields.List(fields.Nested(ShopSchema))
    equipment = fields.List(fields.Nested(EquipmentSchema))
    self_check = fields.Nested(SelfCheckSchema)
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    last_inspected_at = fields.DateTime(allow_none=True)
    expired_equipment = fields.Integer()
    personal_data_masked = fields.Boolean()
    notes = fields.String(allow_none=True)
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class BuildingSummarySchema(BuildingSchema):
    """A building in a list: enough to show it on a map and in a work queue."""

    class Meta:
        fields = (
            "id",
            "code",
            "name",
            "address",
            "grid_id",
            "location",
            "use_type",
            "floors_above",
            "risk_level",
            "self_check",
            "expired_equipment",
            "version",
            "updated_at",
        )


class BuildingListArgs(PageArgs):
    grid_id = fields.UUID()
    use_type = fields.String(validate=validate.OneOf(USE_TYPES))
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    overdue = fields.Boolean()
    q = fields.String(validate=validate.Length(min=1, max=80))


class BuildingPageSchema(PageSchema):
    items = fields.List(fields.Nested(BuildingSummarySchema))


class ChangeSchema(Schema):
    id = fields.UUID()
    version = fields.Integer()
    action = fields.String()
    actor_id = fields.UUID(allow_none=True)
    at = fields.DateTime()
    changes = fields.Dict(keys=fields.String(), values=fields.Dict())


class ChangePageSchema(PageSchema):
    items = fields.List(fields.Nested(ChangeSchema))
