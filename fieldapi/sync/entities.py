"""The kinds of object a phone keeps, by name: each one's module is in ``shapes``."""

from __future__ import annotations

from fieldapi.sync.reading import Entity
from fieldapi.sync.shapes.buildings import BUILDINGS
from fieldapi.sync.shapes.fieldwork import HAZARDS, INSPECTIONS, RECTIFICATIONS
from fieldapi.sync.shapes.photos import PHOTOS
from fieldapi.sync.shapes.submissions import SUBMISSIONS
from fieldapi.sync.shapes.templates import TEMPLATES

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (TEMPLATES, BUILDINGS, INSPECTIONS, HAZARDS, RECTIFICATIONS, SUBMISSIONS, PHOTOS)
}
