"""The objects a phone keeps, read as plain rows and shaped compactly for sync.

Every read names its columns (no ORM objects are loaded) and goes through the scope module,
so an object out of the caller's scope is never read. Each entity can be read by id (for a
delta) or page by page in key order (for a full sync, or buildings that entered the scope).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Text,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    cast,
    distinct,
    func,
    literal_column,
    null,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by, distinct_on
from sqlalchemy.orm import Session, aliased

from fieldapi.buildings.models import Building, Equipment, Resident, Shop, Unit
from fieldapi.buildings.present import (
    mask_id_number,
    mask_phone,
    resident_data,
    reveals_personal_data,
    shop_data,
)
from fieldapi.checklists.models import ChecklistItem, ChecklistTemplate
from fieldapi.core import scope
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.models import Hazard, Inspection, Rectification
from fieldapi.photos.models import Photo, PhotoUse
from fieldapi.review.models import Submission, SubmissionEvent
from fieldapi.sync.models import SyncDocument

Rows = Sequence[Any]
JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS
Found = tuple[list[str], list[Any]]  # ids, and the objects (dicts, or Joined)


@dataclass(frozen=True)
class Joined:
    """Several objects' JSON, built by the database, joined by commas."""

    text: str
    count: int


def as_json_list(items: list) -> list | orjson.Fragment:
    """A list of objects, some of them Joined, as something orjson writes as one array."""
    if not any(isinstance(item, Joined) for item in items):
        return items
    parts = [
        item.text if isinstance(item, Joined) else orjson.dumps(item, option=JSON_OPTIONS).decode()
        for item in items
    ]
    return orjson.Fragment("[" + ",".join(parts) + "]")


IN_CHUNK = 5000
# Documents kept on PostgreSQL (``fieldapi.sync.documents``), by the name they are kept
# under: a building's two, with residents' numbers masked and whole.
STORED = ("buildings", "buildings.whole", "inspections", "hazards", "rectifications")
STORED += ("submissions",)


def stored_names(entity: str) -> tuple[str, ...]:
    """The names an entity's documents are kept under (none when not kept)."""
    if entity == "buildings":
        return ("buildings", "buildings.whole")
    return (entity,) if entity in STORED else ()


def _chunks(ids: Sequence[uuid.UUID]):
    for start in range(0, len(ids), IN_CHUNK):
        yield ids[start : start + IN_CHUNK]


def id_array(ids: Sequence[uuid.UUID | str] | str) -> ColumnElement:
    """A PostgreSQL array of ids, sent as one comma-separated text (thousands of ids as an
    array parameter cost more to send than the query takes)."""
    text = ids if isinstance(ids, str) else ",".join(str(i) for i in ids)
    joined = bindparam(None, text, type_=Text)
    return cast(func.string_to_array(joined, literal_column("','")), ARRAY(Uuid()))


def _one_of(db: Session, column, ids: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL one array parameter rather than thousands."""
    if db.get_bind().dialect.name == "postgresql":
        return column == any_(id_array(ids))
    return column.in_(ids)


def _raw_json(column) -> ColumnElement:
    """A JSON column as its text, passed into the answer as it is, without parsing."""
    return cast(column, Text)


def _fragment(text: str | None):
    return None if text is None else orjson.Fragment(text)


def _location(lat, lon) -> dict[str, float] | None:
    return {"lat": lat, "lon": lon} if lat is not None else None


def _stage_join(stmt: Select, subject_type: str, model) -> Select:
    return stmt.outerjoin(
        Submission,
        and_(Submission.subject_type == subject_type, Submission.subject_id == model.id),
    )


@dataclass(frozen=True)
class Entity:
    """How one kind of object is selected, ordered, scoped and shaped."""

    name: str
    model: type
    # The building an object belongs to (None: not kept per building).
    building: Callable[[], ColumnElement] | None
    columns: Callable[[], Select]
    shape: Callable[[Session, Actor, Rows], list[dict[str, Any]]]
    scoped: bool = True  # templates are the same for everyone
    # On PostgreSQL: the objects among an array of ids as JSON text built by the database,
    # a select of (id, doc); None: shaped in Python on every backend.
    document: Callable[[Actor, ColumnElement], Select] | None = None

    def key(self) -> tuple[ColumnElement, ...]:
        if self.building is None or self.name == "buildings":
            return (self.model.id,)
        return (self.building(), self.model.id)

    def visible(self, actor: Actor) -> ColumnElement[bool]:
        return scope.where(actor, self.model) if self.scoped else true()

    def member(self, buildings: Select) -> ColumnElement[bool] | None:
        """Belongs to one of ``buildings`` (None: the entity is not kept per building)."""
        if self.building is not None:
            return self.building().in_(buildings)
        if self.model is Photo:
            used = select(PhotoUse.photo_id).where(PhotoUse.building_id.in_(buildings))
            return Photo.id.in_(used)
        return None

    def stored_as(self, actor: Actor) -> str | None:
        """The name this actor's documents of this entity are kept under (None: not kept)."""
        if self.name == "buildings":
            return "buildings.whole" if reveals_personal_data(actor) else "buildings"
        return self.name if self.name in STORED else None

    def _in_database(self, db: Session) -> bool:
        return self.document is not None and db.get_bind().dialect.name == "postgresql"

    def _documents(self, db: Session, actor: Actor, ids, *, check: bool) -> Found:
        """The database-built documents of ``ids`` (a list, or ids joined by commas) in key
        order, as one piece of text (only those in scope when ``check``; else the ids were
        just read in scope)."""
        key = self.key()
        inner = self.document(actor, id_array(ids))
        if check:
            inner = inner.where(self.visible(actor))
        inner = inner.add_columns(*(k.label(f"k{n}") for n, k in enumerate(key))).subquery()
        order = [inner.c[f"k{n}"] for n in range(len(key))]
        stmt = select(
            func.count(),
            func.string_agg(inner.c.id, aggregate_order_by(literal_column("','"), *order)),
            func.string_agg(inner.c.doc, aggregate_order_by(literal_column("','"), *order)),
        )
        count, found_ids, docs = db.connection().execute(stmt).one()
        if not count:
            return [], []
        return found_ids.split(","), [Joined(docs, count)]

    def by_ids(self, db: Session, actor: Actor, ids: Sequence[uuid.UUID]) -> Found:
        """The objects among ``ids`` that exist and are in scope: their ids, and shapes."""
        found: Found = ([], [])
        for chunk in _chunks(list(ids)):
            if self._in_database(db):
                some = self._documents(db, actor, chunk, check=True)
            else:
                stmt = self.columns().where(_one_of(db, self.model.id, chunk), self.visible(actor))
                rows = db.connection().execute(stmt).all()
                some = [str(row.id) for row in rows], self.shape(db, actor, rows)
            found[0].extend(some[0])
            found[1].extend(some[1])
        return found

    def page(
        self,
        db: Session,
        actor: Actor,
        *,
        within: ColumnElement[bool],
        after: tuple | None,
        limit: int,
    ) -> tuple[list, int, tuple | None]:
        """Up to ``limit`` objects in scope and ``within`` a building set, after a key: the
        objects, how many, and the key to go on from (None: no more)."""
        key = self.key()
        if self._in_database(db):
            return self._page_in_database(db, actor, within=within, after=after, limit=limit)
        stmt = self.columns().where(self.visible(actor), within)
        if after is not None:
            stmt = stmt.where(tuple_(*key) > tuple_(*after))
        rows = db.connection().execute(stmt.order_by(*key).limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        last = _key_of(self, rows[-1]) if more else None
        return self.shape(db, actor, rows), len(rows), last

    def _page_keys(self, actor: Actor, *, within, after) -> Select:
        """The keys of the objects in scope and ``within``, after a key, in key order.

        An object kept per building is found building by building, the buildings in key
        order: each building's objects come from an index in order, so that a page stops
        reading after its last key instead of sorting everything after the first."""
        key = self.key()
        if len(key) == 1:
            keys = select(key[0].label("k0")).where(self.visible(actor), within)
            if after is not None:
                keys = keys.where(key[0] > after[0])
            return keys.order_by(key[0])
        inner = self.model.id
        buildings = select(Building.id).where(scope.where(actor, Building))
        if after is not None:
            buildings = buildings.where(Building.id >= after[0])
        # Ordered here, so that the planner walks the buildings in order and stops at the
        # page's end rather than sorting every object after the first key.
        place = buildings.order_by(Building.id).subquery("place")
        objects = select(inner).where(self.building() == place.c.id, self.visible(actor), within)
        if after is not None:
            objects = objects.where(tuple_(self.building(), inner) > tuple_(*after))
        found = objects.order_by(inner).lateral("found")
        return (
            select(place.c.id.label("k0"), found.c.id.label("k1"))
            .select_from(place)
            .join(found, true())
            .order_by(place.c.id, found.c.id)
        )

    def _page_in_database(
        self, db: Session, actor: Actor, *, within, after, limit: int
    ) -> tuple[list, int, tuple | None]:
        """One statement: the page's keys in order, the documents of those objects joined
        into one text (stored ones where kept), how many there were and the key to go on
        from. Objects whose stored document is missing or out of date are built after."""
        size = len(self.key())
        keys = self._page_keys(actor, within=within, after=after).limit(limit + 1).subquery()
        page = (
            select(
                *keys.c,
                func.row_number().over(order_by=[keys.c[f"k{n}"] for n in range(size)]).label("n"),
            )
        ).cte("page")
        kept = select(page.c[f"k{size - 1}"]).where(page.c.n <= limit)
        stored = self.stored_as(actor)
        if stored is not None:
            d = SyncDocument
            docs = (
                select(*(page.c[f"k{n}"] for n in range(size)), d.doc)
                .select_from(page)
                .outerjoin(
                    d,
                    and_(
                        d.entity == stored,
                        d.object_id == page.c[f"k{size - 1}"],
                        d.shape == SyncDocument.SHAPE,
                    ),
                )
                .where(page.c.n <= limit)
                .subquery("docs")
            )
        else:
            docs = (
                self.document(actor, kept)
                .add_columns(*(k.label(f"k{n}") for n, k in enumerate(self.key())))
                .subquery("docs")
            )
        order = [docs.c[f"k{n}"] for n in range(size)]
        last = [
            select(cast(page.c[f"k{n}"], Text)).where(page.c.n == limit).scalar_subquery()
            for n in range(size)
        ]
        # Only a kept document can be missing. (Asking of one built here would build it
        # twice: the planner writes the document out once per use.)
        missing = null()
        if stored is not None:
            missing = func.string_agg(cast(order[-1], Text), literal_column("','")).filter(
                docs.c.doc.is_(None)
            )
        row = (
            db.connection()
            .execute(
                select(
                    select(func.count()).select_from(page).scalar_subquery(),
                    func.string_agg(docs.c.doc, aggregate_order_by(literal_column("','"), *order)),
                    func.count(),
                    missing,
                    *last,
                ).select_from(docs)
            )
            .one()
        )
        total, text, count, unbuilt = row[0], row[1], row[2], row[3]
        if not count:
            return [], 0, None
        found: list = []
        if text:
            found.append(Joined(text, count - (unbuilt.count(",") + 1 if unbuilt else 0)))
        if unbuilt:
            found.extend(self._documents(db, actor, unbuilt, check=False)[1])
        return found, count, (tuple(row[4:]) if total > limit else None)

    def ids_page(
        self, db: Session, *, within: ColumnElement[bool], after: tuple | None, limit: int
    ) -> tuple[list[uuid.UUID], tuple | None]:
        """Ids (not contents) of objects within a building set: those that left the scope."""
        key = self.key()
        stmt = select(*key).where(within)
        if after is not None:
            stmt = stmt.where(tuple_(*key) > tuple_(*after))
        rows = db.connection().execute(stmt.order_by(*key).limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return [row[-1] for row in rows], (tuple(rows[-1]) if more else None)


def _key_of(entity: Entity, row) -> tuple:
    """The key of a shaped row: columns are selected as (id, building_id, ...)."""
    if len(entity.key()) == 1:
        return (row.id,)
    return (row.building_id, row.id)


# --- templates ---------------------------------------------------------------------------


def _template_columns() -> Select:
    t = ChecklistTemplate
    return select(t.id, t.use_type, t.version, t.name)


def _shape_templates(db: Session, _actor: Actor, rows: Rows) -> list[dict]:
    items: dict[uuid.UUID, list[dict]] = defaultdict(list)
    ids = [row.id for row in rows]
    i = ChecklistItem
    for chunk in _chunks(ids):
        stmt = (
            select(i.template_id, i.code, i.label_zh, i.label_en, i.category, i.severity)
            .add_columns(i.photo_required)
            .where(_one_of(db, i.template_id, chunk))
            .order_by(i.template_id, i.position)
        )
        for tid, code, zh, en, category, severity, photo in db.connection().execute(stmt):
            items[tid].append(
                {
                    "code": code,
                    "label": {"zh": zh, "en": en},
                    "category": category,
                    "severity": severity,
                    "photo_required": photo,
                }
            )
    return [
        {
            "id": r.id,
            "use_type": r.use_type,
            "version": r.version,
            "name": r.name,
            "items": items[r.id],
        }
        for r in rows
    ]


# --- buildings ---------------------------------------------------------------------------


def _building_columns() -> Select:
    b = Building
    return select(
        b.id,
        b.code,
        b.name,
        b.address,
        b.grid_id,
        b.lat,
        b.lon,
        b.use_type,
        b.floors_above,
        b.floors_below,
        b.height_m,
        b.structure,
        b.year_built,
        b.floor_area_m2,
        _raw_json(b.responsibility).label("responsibility"),
        b.statement_signed_on,
        b.statement_photo_id,
        b.self_check_interval_days,
        b.next_self_check_due_at,
        b.last_inspected_at,
        b.risk_level,
        b.notes,
        b.version,
    )


def _children(db: Session, stmt_for, ids: list[uuid.UUID]) -> dict[uuid.UUID, list]:
    found: dict[uuid.UUID, list] = defaultdict(list)
    for chunk in _chunks(ids):
        for row in db.connection().execute(stmt_for(chunk)):
            found[row[0]].append(row)
    return found


def _shape_buildings(db: Session, actor: Actor, rows: Rows) -> list[dict]:
    ids = [row.id for row in rows]
    whole = reveals_personal_data(actor)
    units = _children(
        db,
        lambda c: (
            select(Unit.building_id, Unit.id, Unit.label, Unit.floor, Unit.area_m2, Unit.use)
            .where(_one_of(db, Unit.building_id, c))
            .order_by(Unit.building_id, Unit.floor, Unit.label, Unit.id)
        ),
        ids,
    )
    unit_ids = [u.id for found in units.values() for u in found]
    residents = _children(
        db,
        lambda c: (
            select(
                Resident.unit_id,
                Resident.id,
                Resident.name,
                Resident.id_number,
                Resident.phone,
                Resident.kind,
                Resident.is_tenant,
                Resident.registered_on,
            )
            .where(_one_of(db, Resident.unit_id, c))
            .order_by(Resident.unit_id, Resident.name, Resident.id)
        ),
        unit_ids,
    )
    shops = _children(
        db,
        lambda c: (
            select(
                Shop.building_id,
                Shop.id,
                Shop.name,
                Shop.licence_number,
                Shop.business_type,
                Shop.operator_name,
                Shop.contact_phone,
                Shop.floor,
            )
            .where(_one_of(db, Shop.building_id, c))
            .order_by(Shop.building_id, Shop.name, Shop.id)
        ),
        ids,
    )
    equipment = _children(
        db,
        lambda c: (
            select(
                Equipment.building_id,
                Equipment.id,
                Equipment.kind,
                Equipment.count,
                Equipment.location,
                Equipment.last_service_on,
                Equipment.expires_on,
                Equipment.photo_id,
            )
            .where(_one_of(db, Equipment.building_id, c))
            .order_by(Equipment.building_id, Equipment.kind, Equipment.id)
        ),
        ids,
    )

    def person(r) -> dict:
        data = resident_data(r)
        if not whole:
            data["id_number"] = mask_id_number(r.id_number)
            data["phone"] = mask_phone(r.phone)
        return data

    out = []
    for r in rows:
        out.append(
            {
                "id": r.id,
                "code": r.code,
                "name": r.name,
                "address": r.address,
                "grid_id": r.grid_id,
                "location": _location(r.lat, r.lon),
                "use_type": r.use_type,
                "floors_above": r.floors_above,
                "floors_below": r.floors_below,
                "height_m": r.height_m,
                "structure": r.structure,
                "year_built": r.year_built,
                "floor_area_m2": r.floor_area_m2,
                "responsibility": _fragment(r.responsibility),
                "statement_signed_on": r.statement_signed_on,
                "statement_photo_id": r.statement_photo_id,
                "self_check_interval_days": r.self_check_interval_days,
                "next_self_check_due_at": r.next_self_check_due_at,
                "last_inspected_at": r.last_inspected_at,
                "risk_level": r.risk_level,
                "notes": r.notes,
                "version": r.version,
                "units": [
                    {
                        "id": u.id,
                        "label": u.label,
                        "floor": u.floor,
                        "area_m2": u.area_m2,
                        "use": u.use,
                        "residents": [person(p) for p in residents.get(u.id, ())],
                    }
                    for u in units.get(r.id, ())
                ],
                "shops": [shop_data(s) for s in shops.get(r.id, ())],
                "equipment": [
                    {
                        "id": e.id,
                        "kind": e.kind,
                        "count": e.count,
                        "location": e.location,
                        "last_service_on": e.last_service_on,
                        "expires_on": e.expires_on,
                        "photo_id": e.photo_id,
                    }
                    for e in equipment.get(r.id, ())
                ],
            }
        )
    return out


# --- inspections -------------------------------------------------------------------------


def _inspection_columns() -> Select:
    i = Inspection
    stmt = select(
        i.id,
        i.building_id,
        i.kind,
        i.template_id,
        i.inspector_id,
        i.performed_at,
        i.lat,
        i.lon,
        i.note,
        i.status,
        i.version,
        Submission.stage,
        _raw_json(i.findings).label("findings"),
        _raw_json(i.unchecked).label("unchecked"),
    )
    return _stage_join(stmt, "inspection", i)


def _shape_inspections(_db: Session, _actor: Actor, rows: Rows) -> list[dict]:
    # Only the results that say more than "passed" (a fail, a not-applicable, or a pass with
    # a note or photos): every other item of the template passed, unless listed as unchecked.
    out = []
    for row in rows:
        item = {
            "id": row.id,
            "building_id": row.building_id,
            "kind": row.kind,
            "template_id": row.template_id,
            "inspector_id": row.inspector_id,
            "performed_at": row.performed_at,
            "location": _location(row.lat, row.lon),
            "note": row.note,
            "status": row.status,
            "version": row.version,
            "stage": row.stage,
            "results": _fragment(row.findings),
        }
        if row.unchecked not in ("[]", None):
            item["unchecked"] = _fragment(row.unchecked)
        out.append(item)
    return out


# --- hazards and rectifications ----------------------------------------------------------


def _hazard_columns() -> Select:
    h = Hazard
    stmt = select(
        h.id,
        h.building_id,
        h.source,
        h.inspection_id,
        h.item_code,
        h.category,
        h.severity,
        h.description,
        _raw_json(h.photo_ids).label("photo_ids"),
        h.lat,
        h.lon,
        h.reported_by,
        h.reported_at,
        h.due_at,
        h.status,
        h.closed_at,
        h.version,
        Submission.stage,
    )
    return _stage_join(stmt, "hazard", h)


def _shape_hazards(_db: Session, _actor: Actor, rows: Rows) -> list[dict]:
    return [
        {
            "id": r.id,
            "building_id": r.building_id,
            "source": r.source,
            "inspection_id": r.inspection_id,
            "item_code": r.item_code,
            "category": r.category,
            "severity": r.severity,
            "description": r.description,
            "photo_ids": _fragment(r.photo_ids),
            "location": _location(r.lat, r.lon),
            "reported_by": r.reported_by,
            "reported_at": r.reported_at,
            "due_at": r.due_at,
            "status": r.status,
            "closed_at": r.closed_at,
            "version": r.version,
            "stage": r.stage,
        }
        for r in rows
    ]


def _rectification_columns() -> Select:
    r = Rectification
    stmt = select(
        r.id,
        r.building_id,
        r.hazard_id,
        r.note,
        _raw_json(r.photo_ids).label("photo_ids"),
        r.submitted_by,
        r.status,
        r.created_at,
        r.version,
        Submission.stage,
    )
    return _stage_join(stmt, "rectification", r)


def _shape_rectifications(_db: Session, _actor: Actor, rows: Rows) -> list[dict]:
    return [
        {
            "id": r.id,
            "hazard_id": r.hazard_id,
            "note": r.note,
            "photo_ids": _fragment(r.photo_ids),
            "submitted_by": r.submitted_by,
            "status": r.status,
            "created_at": r.created_at,
            "version": r.version,
            "stage": r.stage,
        }
        for r in rows
    ]


# --- submissions -------------------------------------------------------------------------


def _submission_columns() -> Select:
    s = Submission
    return select(
        s.id,
        s.building_id,
        s.subject_type,
        s.subject_id,
        s.stage,
        _raw_json(s.route).label("route"),
        s.escalated,
        s.stage_due_at,
        s.version,
    )


def _shape_submissions(db: Session, _actor: Actor, rows: Rows) -> list[dict]:
    e = SubmissionEvent
    last: dict[uuid.UUID, dict] = {}
    for chunk in _chunks([row.id for row in rows]):
        newest = (
            select(e.submission_id, func.max(e.seq).label("seq"))
            .where(_one_of(db, e.submission_id, chunk))
            .group_by(e.submission_id)
            .subquery()
        )
        stmt = (
            select(e.submission_id, e.decision, e.to_stage, e.actor_id, e.at, e.reason)
            .add_columns(_raw_json(e.items))
            .join(newest, and_(newest.c.submission_id == e.submission_id, newest.c.seq == e.seq))
        )
        for sid, decision, stage, actor_id, at, reason, items in db.connection().execute(stmt):
            event: dict[str, Any] = {
                "decision": decision,
                "stage": stage,
                "actor_id": actor_id,
                "at": at,
            }
            if reason is not None:
                event["reason"] = reason
            if items and items != "[]":
                event["items"] = _fragment(items)
            last[sid] = event
    return [
        {
            "id": r.id,
            "subject": {"type": r.subject_type, "id": r.subject_id},
            "stage": r.stage,
            "route": _fragment(r.route),
            "escalated": r.escalated,
            "stage_due_at": r.stage_due_at,
            "version": r.version,
            "last_decision": last.get(r.id),
        }
        for r in rows
    ]


# --- photos ------------------------------------------------------------------------------


def _photo_columns() -> Select:
    p = Photo
    return select(
        p.id,
        p.status,
        p.content_type,
        p.size,
        p.width,
        p.height,
        p.captured_at,
        p.lat,
        p.lon,
    )


def _shape_photos(db: Session, actor: Actor, rows: Rows) -> list[dict]:
    in_scope = select(Building.id).where(scope.where(actor, Building))
    flags: dict[uuid.UUID, set[str]] = defaultdict(set)
    for chunk in _chunks([r.id for r in rows]):
        stmt = select(PhotoUse.photo_id, PhotoUse.flags).where(
            _one_of(db, PhotoUse.photo_id, chunk), PhotoUse.building_id.in_(in_scope)
        )
        for photo_id, found in db.connection().execute(stmt):
            flags[photo_id].update(found or ())
    return [
        {
            "id": r.id,
            "status": r.status,
            "content_type": r.content_type,
            "size": r.size,
            "width": r.width,
            "height": r.height,
            "captured_at": r.captured_at,
            "location": _location(r.lat, r.lon),
            "flags": sorted(flags[r.id]),
        }
        for r in rows
    ]


# --- documents built by PostgreSQL ------------------------------------------------------
#
# The same shapes as above, written as compact JSON text by the database, so a full copy's
# tens of thousands of objects never become Python values: the answer is their text joined.
# Each value is turned into JSON by its kind; times as in Python: UTC, to the second, Z.

TIME_FORMAT = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS"Z"'""")
DATE_FORMAT = literal_column("'YYYY-MM-DD'")


def _q(text: str) -> ColumnElement:
    """A constant piece of JSON text."""
    return literal_column("'" + text.replace("'", "''") + "'", Text)


def _value(column, kind: str) -> ColumnElement:
    """``column`` as JSON text, or SQL null when it is null."""
    match kind:
        case "id":
            return _q('"').concat(cast(column, Text)).concat(_q('"'))
        case "text":
            return cast(func.to_json(column), Text)
        case "time":
            stamp = func.to_char(func.timezone("UTC", column), TIME_FORMAT)
            return _q('"').concat(stamp).concat(_q('"'))
        case "date":
            return _q('"').concat(func.to_char(column, DATE_FORMAT)).concat(_q('"'))
        case "number" | "json":
            return cast(column, Text)
    raise ValueError(kind)


def _object(*fields: tuple) -> ColumnElement:
    """JSON object text of (name, value, kind) fields, ``kind`` as in ``_value`` or "raw"
    for JSON text built already. A kind ending in "?" leaves the field out when null;
    other fields are written as null."""
    parts: list[Any] = []
    for n, (name, column, kind) in enumerate(fields):
        key = ("{" if n == 0 else ",") + f'"{name}":'
        optional = kind.endswith("?")
        kind = kind.rstrip("?")
        value = column if kind == "raw" else _value(column, kind)
        if optional:
            parts.append(_q(key).concat(value))
        else:
            parts.extend((_q(key), func.coalesce(value, _q("null"))))
    parts.append(_q("}"))
    return func.concat(*parts)


def _array(element: ColumnElement, *order_by, where=None) -> ColumnElement:
    """An aggregate: the JSON array text of ``element`` over the rows (those ``where`` holds),
    in order; null when there are none."""
    joined = func.string_agg(element, aggregate_order_by(_q(","), *order_by))
    if where is not None:
        joined = joined.filter(where)
    return _q("[").concat(joined).concat(_q("]"))


def _list_of(select_stmt: Select) -> ColumnElement:
    """A correlated JSON array (``[]`` when there are no rows)."""
    return func.coalesce(select_stmt.scalar_subquery(), _q("[]"))


def _place(model) -> ColumnElement:
    place = _object(("lat", model.lat, "number"), ("lon", model.lon, "number"))
    return case((model.lat.is_not(None), place))


def _unless_empty(column) -> ColumnElement:
    """A JSON list column's text, or null when it is empty."""
    return case((cast(column, String) != "[]", cast(column, Text)))


def _among(column, ids: ColumnElement | Select) -> ColumnElement[bool]:
    """``column`` is one of ``ids``: an array of ids, or a select of them."""
    if isinstance(ids, Select):
        return column.in_(ids)
    return column == any_(ids)


def _doc(model, doc: ColumnElement, ids: ColumnElement | Select) -> Select:
    """(id, doc) of the objects among ``ids``, the id as text: it only goes into answers."""
    return select(cast(model.id, Text).label("id"), doc.label("doc")).where(_among(model.id, ids))


def _with_stage(stmt: Select, subject_type: str, model, stage) -> Select:
    return stmt.outerjoin(
        stage, and_(stage.subject_type == subject_type, stage.subject_id == model.id)
    )


def _masked_id_number(column) -> ColumnElement:
    keep = case((func.length(column) > 10, 4), else_=1)
    masked = (
        func.left(column, keep)
        .concat(func.repeat("*", func.length(column) - 2 * keep))
        .concat(func.right(column, keep))
    )
    return case((column == "", column), else_=masked)


def _masked_phone(column) -> ColumnElement:
    digits = func.replace(func.replace(column, " ", ""), "-", "")
    size = func.length(digits)
    masked = case(
        (size < 7, func.repeat("*", size)),
        else_=func.left(digits, 3).concat(func.repeat("*", size - 7)).concat(func.right(digits, 4)),
    )
    return case((column == "", column), else_=masked)


def _building_document(actor: Actor, ids: ColumnElement) -> Select:
    return building_document(reveals_personal_data(actor), ids)


def building_document(whole: bool, ids: ColumnElement) -> Select:
    """Buildings' documents, with residents' numbers whole or masked."""
    b, u, p, s, e = Building, Unit, Resident, Shop, Equipment
    person = _object(
        ("id", p.id, "id"),
        ("name", p.name, "text"),
        ("id_number", p.id_number if whole else _masked_id_number(p.id_number), "text"),
        ("phone", p.phone if whole else _masked_phone(p.phone), "text"),
        ("kind", p.kind, "text"),
        ("is_tenant", p.is_tenant, "number"),
        ("registered_on", p.registered_on, "date"),
    )
    residents = _list_of(select(_array(person, p.name, p.id)).where(p.unit_id == u.id))
    unit = _object(
        ("id", u.id, "id"),
        ("label", u.label, "text"),
        ("floor", u.floor, "number"),
        ("area_m2", u.area_m2, "number"),
        ("use", u.use, "text"),
        ("residents", residents, "raw"),
    )
    shop = _object(
        ("id", s.id, "id"),
        ("name", s.name, "text"),
        ("licence_number", s.licence_number, "text"),
        ("business_type", s.business_type, "text"),
        ("operator_name", s.operator_name, "text"),
        ("contact_phone", s.contact_phone, "text"),
        ("floor", s.floor, "number"),
    )
    item = _object(
        ("id", e.id, "id"),
        ("kind", e.kind, "text"),
        ("count", e.count, "number"),
        ("location", e.location, "text"),
        ("last_service_on", e.last_service_on, "date"),
        ("expires_on", e.expires_on, "date"),
        ("photo_id", e.photo_id, "id"),
    )
    doc = _object(
        ("id", b.id, "id"),
        ("code", b.code, "text"),
        ("name", b.name, "text"),
        ("address", b.address, "text"),
        ("grid_id", b.grid_id, "id"),
        ("location", _place(b), "raw"),
        ("use_type", b.use_type, "text"),
        ("floors_above", b.floors_above, "number"),
        ("floors_below", b.floors_below, "number"),
        ("height_m", b.height_m, "number"),
        ("structure", b.structure, "text"),
        ("year_built", b.year_built, "number"),
        ("floor_area_m2", b.floor_area_m2, "number"),
        ("responsibility", b.responsibility, "json"),
        ("statement_signed_on", b.statement_signed_on, "date"),
        ("statement_photo_id", b.statement_photo_id, "id"),
        ("self_check_interval_days", b.self_check_interval_days, "number"),
        ("next_self_check_due_at", b.next_self_check_due_at, "time"),
        ("last_inspected_at", b.last_inspected_at, "time"),
        ("risk_level", b.risk_level, "text"),
        ("notes", b.notes, "text"),
        ("version", b.version, "number"),
        (
            "units",
            _list_of(select(_array(unit, u.floor, u.label, u.id)).where(u.building_id == b.id)),
            "raw",
        ),
        ("shops", _list_of(select(_array(shop, s.name, s.id)).where(s.building_id == b.id)), "raw"),
        (
            "equipment",
            _list_of(select(_array(item, e.kind, e.id)).where(e.building_id == b.id)),
            "raw",
        ),
    )
    return _doc(b, doc, ids)


def _inspection_document(_actor: Actor, ids: ColumnElement) -> Select:
    i, stage = Inspection, aliased(Submission)
    doc = _object(
        ("id", i.id, "id"),
        ("building_id", i.building_id, "id"),
        ("kind", i.kind, "text"),
        ("template_id", i.template_id, "id"),
        ("inspector_id", i.inspector_id, "id"),
        ("performed_at", i.performed_at, "time"),
        ("location", _place(i), "raw"),
        ("note", i.note, "text"),
        ("status", i.status, "text"),
        ("version", i.version, "number"),
        ("stage", stage.stage, "text"),
        ("results", i.findings, "json"),
        ("unchecked", _unless_empty(i.unchecked), "raw?"),
    )
    return _with_stage(_doc(i, doc, ids).select_from(i), "inspection", i, stage)


def _hazard_document(_actor: Actor, ids: ColumnElement) -> Select:
    h, stage = Hazard, aliased(Submission)
    doc = _object(
        ("id", h.id, "id"),
        ("building_id", h.building_id, "id"),
        ("source", h.source, "text"),
        ("inspection_id", h.inspection_id, "id"),
        ("item_code", h.item_code, "text"),
        ("category", h.category, "text"),
        ("severity", h.severity, "text"),
        ("description", h.description, "text"),
        ("photo_ids", h.photo_ids, "json"),
        ("location", _place(h), "raw"),
        ("reported_by", h.reported_by, "id"),
        ("reported_at", h.reported_at, "time"),
        ("due_at", h.due_at, "time"),
        ("status", h.status, "text"),
        ("closed_at", h.closed_at, "time"),
        ("version", h.version, "number"),
        ("stage", stage.stage, "text"),
    )
    return _with_stage(_doc(h, doc, ids).select_from(h), "hazard", h, stage)


def _rectification_document(_actor: Actor, ids: ColumnElement) -> Select:
    r, stage = Rectification, aliased(Submission)
    doc = _object(
        ("id", r.id, "id"),
        ("hazard_id", r.hazard_id, "id"),
        ("note", r.note, "text"),
        ("photo_ids", r.photo_ids, "json"),
        ("submitted_by", r.submitted_by, "id"),
        ("status", r.status, "text"),
        ("created_at", r.created_at, "time"),
        ("version", r.version, "number"),
        ("stage", stage.stage, "text"),
    )
    return _with_stage(_doc(r, doc, ids).select_from(r), "rectification", r, stage)


def _submission_document(_actor: Actor, ids: ColumnElement) -> Select:
    s, e = Submission, SubmissionEvent
    newest = (
        select(e.submission_id, e.decision, e.to_stage, e.actor_id, e.at, e.reason, e.items)
        .where(_among(e.submission_id, ids))
        .order_by(e.submission_id, e.seq.desc())
        .ext(distinct_on(e.submission_id))
        .subquery("last")
    )
    last = _object(
        ("decision", newest.c.decision, "text"),
        ("stage", newest.c.to_stage, "text"),
        ("actor_id", newest.c.actor_id, "id"),
        ("at", newest.c.at, "time"),
        ("reason", newest.c.reason, "text?"),
        ("items", _unless_empty(newest.c["items"]), "raw?"),
    )
    last = case((newest.c.submission_id.is_not(None), last))
    doc = _object(
        ("id", s.id, "id"),
        ("subject", _object(("type", s.subject_type, "text"), ("id", s.subject_id, "id")), "raw"),
        ("stage", s.stage, "text"),
        ("route", s.route, "json"),
        ("escalated", s.escalated, "number"),
        ("stage_due_at", s.stage_due_at, "time"),
        ("version", s.version, "number"),
        ("last_decision", last, "raw"),
    )
    return _doc(s, doc, ids).select_from(s).outerjoin(newest, newest.c.submission_id == s.id)


def _photo_document(actor: Actor, ids: ColumnElement) -> Select:
    p, u = Photo, aliased(PhotoUse)
    # The flags of each photo's uses in the actor's buildings, each once, in Python's string
    # order; gathered for all the photos asked for at once.
    flag = func.jsonb_array_elements_text(u.flags).table_valued("value").alias("flag")
    each = cast(func.to_json(flag.c.value), Text).collate("C")
    joined = func.string_agg(distinct(each), aggregate_order_by(_q(","), each))
    flags = (
        select(u.photo_id, _q("[").concat(joined).concat(_q("]")).label("flags"))
        .select_from(u)
        .join(flag, true())
        .where(
            _among(u.photo_id, ids),
            u.building_id.in_(select(Building.id).where(scope.where(actor, Building))),
        )
        .group_by(u.photo_id)
        .subquery("flags")
    )
    doc = _object(
        ("id", p.id, "id"),
        ("status", p.status, "text"),
        ("content_type", p.content_type, "text"),
        ("size", p.size, "number"),
        ("width", p.width, "number"),
        ("height", p.height, "number"),
        ("captured_at", p.captured_at, "time"),
        ("location", _place(p), "raw"),
        ("flags", func.coalesce(flags.c.flags, _q("[]")), "raw"),
    )
    return _doc(p, doc, ids).select_from(p).outerjoin(flags, flags.c.photo_id == p.id)


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity("templates", ChecklistTemplate, None, _template_columns, _shape_templates, False),
        Entity(
            "buildings",
            Building,
            lambda: Building.id,
            _building_columns,
            _shape_buildings,
            document=_building_document,
        ),
        Entity(
            "inspections",
            Inspection,
            lambda: Inspection.building_id,
            _inspection_columns,
            _shape_inspections,
            document=_inspection_document,
        ),
        Entity(
            "hazards",
            Hazard,
            lambda: Hazard.building_id,
            _hazard_columns,
            _shape_hazards,
            document=_hazard_document,
        ),
        Entity(
            "rectifications",
            Rectification,
            lambda: Rectification.building_id,
            _rectification_columns,
            _shape_rectifications,
            document=_rectification_document,
        ),
        Entity(
            "submissions",
            Submission,
            lambda: Submission.building_id,
            _submission_columns,
            _shape_submissions,
            document=_submission_document,
        ),
        Entity("photos", Photo, None, _photo_columns, _shape_photos, document=_photo_document),
    )
}


def inbox_document(rows, now) -> ColumnElement:
    """One inbox item as JSON text, of a row of ``fieldapi.review.inbox.waiting``: the
    fields and order of the inbox's own items."""
    c = rows.c
    return _object(
        ("kind", c.kind, "text"),
        ("id", c.ref_id, "id"),
        ("submission_id", c.submission_id, "id"),
        ("building_id", c.building_id, "id"),
        ("hazard_id", c.hazard_id, "id"),
        ("stage", c.stage, "text"),
        ("due_at", c.due_at, "time"),
        ("since", c.since, "time"),
        ("overdue", and_(c.due_at.is_not(None), c.due_at < now), "number"),
    )
