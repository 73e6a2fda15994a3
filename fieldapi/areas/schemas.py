from __future__ import annotations

import math

from marshmallow import Schema, ValidationError, fields, validate, validates

from fieldapi.areas.models import AREA_KINDS
from fieldapi.core.pagination import PageArgs
from fieldapi.core.schemas import PageSchema

MAX_BOUNDARY_POSITIONS = 5000


def check_polygon(value) -> None:
    """A GeoJSON Polygon in WGS84: closed rings of [lon, lat] with at least four positions."""
    if not isinstance(value, dict) or value.get("type") != "Polygon":
        raise ValidationError("Must be a GeoJSON Polygon.")
    if set(value) - {"type", "coordinates"}:
        raise ValidationError("A Polygon has only 'type' and 'coordinates'.")
    rings = value.get("coordinates")
    if not isinstance(rings, list) or not rings:
        raise ValidationError("A Polygon needs at least one ring.")
    total = 0
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 4:
            raise ValidationError("Each ring needs at least four positions.")
        total += len(ring)
        for position in ring:
            if (
                not isinstance(position, list)
                or len(position) not in (2, 3)
                or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in position)
                or not all(math.isfinite(c) for c in position)
            ):
                raise ValidationError("Positions are [longitude, latitude].")
            lon, lat = position[0], position[1]
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValidationError("Longitude or latitude out of range.")
        if ring[0][:2] != ring[-1][:2]:
            raise ValidationError("Each ring must end where it starts.")
    if total > MAX_BOUNDARY_POSITIONS:
        raise ValidationError(f"At most {MAX_BOUNDARY_POSITIONS} positions.")


class AreaSchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String()
    kind = fields.String()
    code = fields.String(allow_none=True)
    parent_id = fields.UUID(allow_none=True)
    boundary = fields.Dict(allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


NAME = validate.Length(min=1, max=120)
CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$", error="Letters, digits and dashes.")


class AreaCreateSchema(Schema):
    id = fields.UUID(load_default=None)
    name = fields.String(required=True, validate=NAME)
    kind = fields.String(required=True, validate=validate.OneOf(AREA_KINDS))
    code = fields.String(load_default=None, allow_none=True, validate=CODE)
    parent_id = fields.UUID(load_default=None, allow_none=True)
    boundary = fields.Dict(load_default=None, allow_none=True)

    @validates("boundary")
    def _boundary(self, value, **_kwargs):
        if value is not None:
            check_polygon(value)


class GridCreateSchema(AreaCreateSchema):
    kind = fields.Constant("grid")
    parent_id = fields.UUID(required=True)


class AreaUpdateSchema(Schema):
    name = fields.String(validate=NAME)
    code = fields.String(allow_none=True, validate=CODE)
    boundary = fields.Dict(allow_none=True)

    @validates("boundary")
    def _boundary(self, value, **_kwargs):
        if value is not None:
            check_polygon(value)


class AreaListArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf(AREA_KINDS))
    parent_id = fields.UUID()


class GridListArgs(PageArgs):
    parent_id = fields.UUID()


class AreaPageSchema(PageSchema):
    items = fields.List(fields.Nested(AreaSchema))
