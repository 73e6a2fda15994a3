"""Building files kept as their API answer (``BuildingFile``), and read from there.

The building file is the most read answer of the API, and its sixteen kilobytes of nested
units, residents, shops and equipment are costly to build. So it is built when it changes,
in the transaction that changes it (``write``, called as the change capture commits), and
a read sends the stored text: one lookup, scoped like every other, and no serializer.

The text is exact for the building version it names, until ``fresh_until``: after that
the clock has turned a self-check overdue or equipment expired, and a read sets those
fields again (``present.set_clock_fields``, the rule every answer uses). A building with no
text of its version (rows written in bulk, a file not yet rebuilt) is built on read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building, BuildingFile
from fieldapi.buildings.present import (
    clock_changes_at,
    file_data,
    reveals_personal_data,
    set_clock_fields,
)
from fieldapi.buildings.schemas import BuildingSchema
from fieldapi.core import direct, jsonbody, scope
from fieldapi.core.db import utcnow
from fieldapi.core.etag import make_etag
from fieldapi.core.problems import NotFound
from fieldapi.core.scope import Actor

_SCHEMA = BuildingSchema()
_CHUNK = 200


def encode(data: dict) -> bytes:
    """A file as the API sends it: the schema's dump, written as every answer is."""
    return jsonbody.dump(_SCHEMA.dump(data))


def etag(building_id: uuid.UUID, version: int) -> str:
    return make_etag("building", building_id, version)


def _row(building: Building) -> dict:
    now = utcnow()
    masked, whole = file_data(building, masked=True), file_data(building, masked=False)
    return {
        "building_id": building.id,
        "version": building.version,
        "fresh_until": clock_changes_at(whole, now),
        "masked": encode(masked).decode(),
        "whole": encode(whole).decode(),
    }


def _upsert(db: Session, rows: list[dict]) -> None:
    builder = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = builder(BuildingFile)
    stmt = stmt.on_conflict_do_update(
        index_elements=[BuildingFile.building_id],
        set_={c: stmt.excluded[c] for c in ("version", "fresh_until", "masked", "whole")},
    )
    db.execute(stmt, rows)


def write(db: Session, building_ids: Iterable[uuid.UUID]) -> None:
    """Build and store the files of these buildings as they are in this transaction."""
    ids = sorted(set(building_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        buildings = db.scalars(
            select(Building).where(Building.id.in_(chunk)).execution_options(populate_existing=True)
        ).all()
        if buildings:
            _upsert(db, [_row(b) for b in buildings])


def fill(db: Session) -> int:
    """Build the files that are missing or of an older version; how many were built."""
    current = select(BuildingFile.building_id).where(
        BuildingFile.building_id == Building.id, BuildingFile.version == Building.version
    )
    missing = list(db.scalars(select(Building.id).where(~current.exists())))
    write(db, missing)
    return len(missing)


def stale(db: Session) -> list[uuid.UUID]:
    """Buildings whose stored file is missing or not what it would be built as now."""
    stored = {
        f.building_id: f
        for f in db.scalars(select(BuildingFile).execution_options(populate_existing=True))
    }
    found = []
    for building in db.scalars(select(Building).order_by(Building.id)):
        kept = stored.get(building.id)
        fresh = _row(building)
        if kept is None or any(getattr(kept, k) != v for k, v in fresh.items()):
            found.append(building.id)
    return found


def _lookup(actor: Actor):
    text = BuildingFile.masked if not reveals_personal_data(actor) else BuildingFile.whole
    return (
        select(
            Building.version,
            BuildingFile.version,
            BuildingFile.fresh_until,
            text,
        )
        .outerjoin(BuildingFile, BuildingFile.building_id == Building.id)
        .where(Building.id == bindparam("building_id"), scope.where(actor, Building))
    )


@dataclass(frozen=True)
class StoredFile:
    """A building file found in scope: its ETag at once, its body when asked for."""

    etag: str
    _db: Session
    _actor: Actor
    _building_id: uuid.UUID
    _text: str | None
    _fresh_until: object

    def body(self) -> bytes:
        now = utcnow()
        if self._text is None:
            building = self._db.get(Building, self._building_id)
            masked = not reveals_personal_data(self._actor)
            return encode(file_data(building, masked=masked))
        if self._fresh_until is None or now < self._fresh_until:
            return self._text.encode()
        data = orjson.loads(self._text)
        set_clock_fields(data, now)
        return jsonbody.dump(data)


def read(*, db: Session, actor: Actor, building_id: uuid.UUID) -> StoredFile:
    """The building file for this reader (404 out of scope), from its stored text."""
    stmt, params = scope.prepared("building_file", actor, _lookup)
    row = direct.first(db, stmt, {**params, "building_id": building_id})
    if row is None:
        raise NotFound()
    version, kept_version, fresh_until, text = row
    if kept_version != version:
        text = None
    return StoredFile(etag(building_id, version), db, actor, building_id, text, fresh_until)
