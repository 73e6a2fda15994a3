"""How one kind of object is read for sync (``Entity``), and which kinds are stored.

Every read names its columns (no ORM objects are loaded) and goes through the scope module,
so an object out of the caller's scope is never read. Each entity can be read by id (for a
delta) or page by page in key order (for a full sync, or buildings that entered the scope),
and the ids alone of those within a set of buildings (for buildings that left it). On
PostgreSQL an entity with a database-built document is read as one piece of JSON text, its
stored documents where they are kept and current; elsewhere its rows are shaped in Python.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    cast,
    func,
    literal_column,
    null,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building
from fieldapi.buildings.present import reveals_personal_data
from fieldapi.core import scope
from fieldapi.core.scope import Actor
from fieldapi.photos.models import Photo, PhotoUse
from fieldapi.sync.encoding import Joined
from fieldapi.sync.models import SyncDocument
from fieldapi.sync.rows import Rows, chunks, id_array, one_of

Found = tuple[list[str], list[Any]]  # ids, and the objects (dicts, or Joined)
# Documents kept on PostgreSQL (``fieldapi.sync.documents``), by the name they are kept
# under: a building's two, with residents' numbers masked and whole.
STORED = ("buildings", "buildings.whole", "inspections", "hazards", "rectifications")
STORED += ("submissions",)


def stored_names(entity: str) -> tuple[str, ...]:
    """The names an entity's documents are kept under (none when not kept)."""
    if entity == "buildings":
        return ("buildings", "buildings.whole")
    return (entity,) if entity in STORED else ()


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
        for chunk in chunks(list(ids)):
            if self._in_database(db):
                some = self._documents(db, actor, chunk, check=True)
            else:
                stmt = self.columns().where(one_of(db, self.model.id, chunk), self.visible(actor))
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
