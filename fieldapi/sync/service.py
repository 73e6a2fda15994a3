"""One page of sync: a full copy of the caller's scope, then what changed since a cursor.

The cursor (``cursor``) holds the last change number delivered, the scope the phone holds
(``scopes``) and, while a copy is under way, its next step; the objects are read through
``entities``, the change log through ``changes``, and the inbox comes along (``inbox``).

- No cursor: the newest change number is read first, then everything in scope is copied,
  entity by entity; changes committed meanwhile have later numbers and come next.
- A cursor: the changes after its number that lay in the caller's scope are read in order;
  each named object is sent as it is now if it is in scope, or named as deleted if not.
- When the caller's scope differs from the cursor's (assignments or the area tree changed),
  the buildings that left are named as deleted with everything under them, and those that
  entered are copied whole, before the changes are read.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

import orjson
from sqlalchemy import ColumnElement, and_, not_, text, true
from sqlalchemy.orm import Session

from fieldapi.core.scope import Actor
from fieldapi.sync.changes import changed_rows, newest_seq
from fieldapi.sync.cursor import Cursor, InvalidCursor, decode_cursor, encode_cursor, parse_key
from fieldapi.sync.entities import ENTITIES
from fieldapi.sync.inbox import inbox_text
from fieldapi.sync.scopes import (
    ALL,
    buildings_of,
    current_scope,
    keep_scope,
    start_move_if_scope_changed,
)

DEFAULT_LIMIT = 5000
MAX_LIMIT = 5000
COPY_ORDER = ("templates", "buildings", "inspections", "hazards", "rectifications")
COPY_ORDER += ("submissions", "photos")
# What lies under a building: named as deleted when the building leaves the scope.
KEPT_PER_BUILDING = ("buildings", "inspections", "hazards", "rectifications", "submissions")
KEPT_PER_BUILDING += ("photos",)


@dataclass
class Page:
    changes: dict[str, dict[str, list]] = field(
        default_factory=lambda: {name: {"upserted": [], "deleted": []} for name in COPY_ORDER}
    )
    next_cursor: str = ""
    has_more: bool = False
    inbox: orjson.Fragment | None = None  # the inbox as JSON, when it is sent


# --- copying -----------------------------------------------------------------------------


def _steps(cursor: Cursor) -> list[tuple[str, str]]:
    """The copy's steps: ("delete", entity) for what left, then ("upsert", entity)."""
    upserts = [("upsert", name) for name in COPY_ORDER]
    if cursor.copy_from is None:
        return upserts
    return [("delete", name) for name in KEPT_PER_BUILDING] + [
        ("upsert", name) for name in KEPT_PER_BUILDING
    ]


def _without_jit(db: Session) -> None:
    """Reading objects: their queries are costed high enough to be compiled, which takes
    longer than running them. This transaction runs them as they are (an empty delta never
    gets here and saves the round trip)."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SET LOCAL jit = off"))


def _copy(db: Session, actor: Actor, cursor: Cursor, page: Page, budget: int) -> int:
    """Run copy steps until the budget is spent or the copy is done; return what is left."""
    _without_jit(db)
    steps = _steps(cursor)
    if not 0 <= cursor.step <= len(steps):
        raise InvalidCursor()
    moving = cursor.copy_from is not None
    if moving:
        old = buildings_of(db, actor, cursor.copy_from)
        new = buildings_of(db, actor, cursor.digest)
    while budget > 0 and cursor.step < len(steps):
        action, name = steps[cursor.step]
        entity = ENTITIES[name]
        after = parse_key(cursor.after)
        if action == "delete":
            within = and_(entity.member(old), not_(entity.member(new)))
            if name == "photos":
                within = and_(within, not_(entity.visible(actor)))
            ids, last = entity.ids_page(db, within=within, after=after, limit=budget)
            page.changes[name]["deleted"].extend(ids)
            budget -= len(ids)
        else:
            within: ColumnElement[bool] = true()
            if moving:
                within = and_(entity.member(new), not_(entity.member(old)))
            found, count, last = entity.page(db, actor, within=within, after=after, limit=budget)
            page.changes[name]["upserted"].extend(found)
            budget -= count
        if last is None:
            cursor.step, cursor.after = cursor.step + 1, None
        else:
            cursor.after = [str(v) for v in last]
    if cursor.step >= len(steps):
        cursor.copying, cursor.copy_from, cursor.step, cursor.after = False, None, 0, None
    return budget


# --- delivering --------------------------------------------------------------------------


def _deliver(db: Session, actor: Actor, rows: list, page: Page) -> None:
    """Each changed object as it is now when in scope, else named as deleted."""
    _without_jit(db)
    named: dict[str, dict[uuid.UUID, None]] = {}
    for _seq, entity, object_id in rows:
        if entity in ENTITIES:
            named.setdefault(entity, {})[object_id] = None
    for name in COPY_ORDER:
        ids = list(named.get(name, ()))
        if not ids:
            continue
        found_ids, found = ENTITIES[name].by_ids(db, actor, ids)
        seen = set(found_ids)
        page.changes[name]["upserted"].extend(found)
        page.changes[name]["deleted"].extend(i for i in ids if str(i) not in seen)


def _send_inbox_if_changed(
    db: Session, actor: Actor, cursor: Cursor, page: Page, notice_days: int
) -> None:
    """The whole inbox, unless it is the one the cursor says was sent last."""
    text = inbox_text(db, actor, notice_days)
    digest = hashlib.sha256(text).hexdigest()[:16]
    if digest != cursor.inbox:
        page.inbox = orjson.Fragment(text)
        cursor.inbox = digest


def pull(
    *,
    db: Session,
    actor: Actor,
    secret: str,
    token: str | None,
    limit: int,
    notice_days: int,
) -> Page:
    """One page for the caller: at most ``limit`` objects (or change records) read."""
    page = Page()
    if token is None:
        seq = newest_seq(db)  # first: anything committed later is numbered later
        digest = keep_scope(db, actor, *current_scope(db, actor))
        cursor = Cursor(seq=seq, digest=digest, copying=True)
        delivered = True
    else:
        cursor = decode_cursor(secret, actor, token)
        if cursor.digest == ALL and not actor.is_admin:
            raise InvalidCursor()
        delivered = False
    budget = limit
    if cursor.copying:
        budget = _copy(db, actor, cursor, page, budget)
        delivered = True
    if not cursor.copying and budget > 0:
        upto = newest_seq(db)
        if upto < cursor.seq:
            raise InvalidCursor(
                "This cursor is ahead of the server's changes (was it restored?). Start again."
            )
        if upto > cursor.seq:
            rows = changed_rows(db, actor, cursor.seq, upto, budget)
            if rows:
                start_move_if_scope_changed(db, actor, cursor)
                if cursor.copying:
                    budget = _copy(db, actor, cursor, page, budget)
                    if cursor.copying or budget == 0:
                        page.has_more = True
                        page.next_cursor = encode_cursor(secret, actor, cursor)
                        return page
                    rows = changed_rows(db, actor, cursor.seq, upto, budget)
                more = len(rows) > budget
                rows = rows[:budget]
                _deliver(db, actor, rows, page)
                delivered = True
                cursor.seq = rows[-1][0] if more else upto
                page.has_more = more
            else:
                cursor.seq = upto
    else:
        page.has_more = cursor.copying or newest_seq(db) > cursor.seq
    if not page.has_more and delivered:
        _send_inbox_if_changed(db, actor, cursor, page, notice_days)
    page.next_cursor = encode_cursor(secret, actor, cursor)
    return page
