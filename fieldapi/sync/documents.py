"""Sync documents kept on PostgreSQL: each stored object's JSON, rewritten when it changes.

A grid's full copy sends thousands of buildings and tens of thousands of inspections,
hazards, rectifications and submissions. Building each one's document while the phone waits
costs most of the copy, and the same documents would be built again for every phone of the
grid. So each document is built once, by the same SQL that builds it on read, in the
transaction that changes the object (the change capture names which), and a copy reads the
text.

A building is kept twice, with residents' numbers masked (``buildings``) and whole
(``buildings.whole``), for the roles that may read them. A page reads a stored document only
when its ``shape`` is the code's (``SyncDocument.SHAPE``); a missing one, or one of another
shape, is built on read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Uuid, and_, any_, cast, delete, exists, literal, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building
from fieldapi.sync.entities import ENTITIES
from fieldapi.sync.models import SyncDocument
from fieldapi.sync.reading import STORED, stored_names
from fieldapi.sync.rows import IN_CHUNK, id_array
from fieldapi.sync.shapes.buildings import building_document


def _builder(name: str):
    """(model, documents of ids) of a kept name."""
    if name == "buildings":
        return Building, lambda ids: building_document(False, ids)
    if name == "buildings.whole":
        return Building, lambda ids: building_document(True, ids)
    entity = ENTITIES[name]
    return entity.model, lambda ids: entity.document(None, ids)


def _building_of(model):
    return model.id if model is Building else model.building_id


def kept(db: Session) -> bool:
    """Whether documents are kept here: on PostgreSQL, which builds them."""
    return db.get_bind().dialect.name == "postgresql"


def _write(db: Session, name: str, ids) -> int:
    """Build and store the documents of ``ids`` (an array of ids, or a select of them); how
    many objects were found."""
    model, documents_of = _builder(name)
    built = documents_of(ids).add_columns(_building_of(model).label("building_id")).subquery()
    stmt = insert(SyncDocument).from_select(
        ["entity", "object_id", "building_id", "shape", "doc"],
        select(
            literal(name),
            cast(built.c.id, Uuid),
            built.c.building_id,
            literal(SyncDocument.SHAPE),
            built.c.doc,
        ),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[SyncDocument.entity, SyncDocument.object_id],
        set_={
            "building_id": stmt.excluded.building_id,
            "shape": stmt.excluded.shape,
            "doc": stmt.excluded.doc,
        },
    )
    return db.connection().execute(stmt.execution_options(preserve_rowcount=True)).rowcount


def _drop_gone(db: Session, name: str, among=None) -> None:
    """Drop the documents (of ``among``, else all) whose object is gone."""
    model = _builder(name)[0]
    gone = ~exists(select(model.id).where(model.id == SyncDocument.object_id))
    stmt = delete(SyncDocument).where(SyncDocument.entity == name, gone)
    if among is not None:
        stmt = stmt.where(SyncDocument.object_id == any_(among))
    db.connection().execute(stmt)


def write(db: Session, changed: Iterable[tuple[str, uuid.UUID]]) -> None:
    """Rewrite the documents of the objects one transaction changed; drop those of objects
    that are gone."""
    if not kept(db):
        return
    wanted: dict[str, list[uuid.UUID]] = {}
    for entity, object_id in changed:
        for name in stored_names(entity):
            wanted.setdefault(name, []).append(object_id)
    for name, ids in wanted.items():
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start : start + IN_CHUNK]
            among = id_array(chunk)
            if _write(db, name, among) < len(chunk):
                _drop_gone(db, name, among)


def fill(db: Session, *, everything: bool = False) -> dict[str, int]:
    """Build the documents that are missing or of another shape (all of them when
    ``everything``), and drop those whose object is gone; how many were built of each."""
    built: dict[str, int] = {}
    if not kept(db):
        return built
    d = SyncDocument
    for name in STORED:
        model = _builder(name)[0]
        wanted = select(model.id)
        if not everything:
            current = select(d.object_id).where(
                d.entity == name, d.object_id == model.id, d.shape == SyncDocument.SHAPE
            )
            wanted = wanted.where(~exists(current))
        built[name] = _write(db, name, wanted)
        _drop_gone(db, name)
    if any(built.values()):
        # Many rows at once: give the planner their statistics now, not when autovacuum
        # comes by (a copy planned on an empty table's statistics takes many seconds).
        db.connection().exec_driver_sql("ANALYZE sync_documents")
    return built


def stale(db: Session) -> list[tuple[str, str]]:
    """(entity, id) of every stored object whose document is missing, of another shape, or
    not what it would be built as now; and of documents whose object is gone."""
    found: list[tuple[str, str]] = []
    if not kept(db):
        return found
    d = SyncDocument
    for name in STORED:
        model, documents_of = _builder(name)
        built = documents_of(select(model.id)).subquery()
        stored = and_(d.entity == name, d.object_id == cast(built.c.id, Uuid))
        differing = (
            select(built.c.id)
            .outerjoin(d, stored)
            .where(or_(d.doc.is_(None), d.shape != SyncDocument.SHAPE, d.doc != built.c.doc))
        )
        found.extend((name, object_id) for object_id in db.scalars(differing))
        orphans = select(cast(d.object_id, Uuid)).where(
            d.entity == name, ~exists(select(model.id).where(model.id == d.object_id))
        )
        found.extend((name, str(object_id)) for object_id in db.scalars(orphans))
    return found
