"""One page of sync: a full copy of the caller's scope, then what changed since a cursor.

A cursor says how far the phone has read: the last change number delivered (``s``), the
scope the phone holds (``d``, a digest of the grids or buildings it covered, kept in
``sync_scopes``), and, while a copy is under way, which step of the copy comes next
(``p``). It is signed with the server's key and bound to the user it was issued to.

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
from datetime import datetime, timedelta
from typing import Any

import orjson
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    func,
    literal_column,
    not_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building
from fieldapi.core import scope
from fieldapi.core.db import utcnow
from fieldapi.core.problems import Problem
from fieldapi.core.scope import Actor
from fieldapi.review import inbox as review_inbox
from fieldapi.sync.encoding import JSON_OPTIONS
from fieldapi.sync.entities import ENTITIES
from fieldapi.sync.inbox import inbox_document
from fieldapi.sync.models import SyncChange, SyncScope

DEFAULT_LIMIT = 5000
MAX_LIMIT = 5000
INBOX_LIMIT = 5000
ALL = "*"  # the digest of an admin's scope: everything, always
SCOPE_TOUCH = timedelta(days=1)  # how stale a stored scope's ``used_at`` may get
COPY_ORDER = ("templates", "buildings", "inspections", "hazards", "rectifications")
COPY_ORDER += ("submissions", "photos")
# What lies under a building: named as deleted when the building leaves the scope.
KEPT_PER_BUILDING = ("buildings", "inspections", "hazards", "rectifications", "submissions")
KEPT_PER_BUILDING += ("photos",)


class InvalidCursor(Problem):
    slug = "invalid-cursor"


@dataclass
class Cursor:
    seq: int
    digest: str
    # A copy under way: the scope it moves from (None for a full copy), step, last key.
    copy_from: str | None = None
    copying: bool = False
    step: int = 0
    after: list[str] | None = None
    inbox: str | None = None  # digest of the inbox last sent along this cursor's line


@dataclass
class Page:
    changes: dict[str, dict[str, list]] = field(
        default_factory=lambda: {name: {"upserted": [], "deleted": []} for name in COPY_ORDER}
    )
    next_cursor: str = ""
    has_more: bool = False
    inbox: orjson.Fragment | None = None  # the inbox as JSON, when it is sent


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="fieldapi.sync.cursor")


def encode_cursor(secret: str, actor: Actor, cursor: Cursor) -> str:
    payload: dict[str, Any] = {"u": actor.user_id.hex, "s": cursor.seq, "d": cursor.digest}
    if cursor.inbox is not None:
        payload["i"] = cursor.inbox
    if cursor.copying:
        payload["p"] = [cursor.copy_from, cursor.step, cursor.after]
    return _serializer(secret).dumps(payload)


def decode_cursor(secret: str, actor: Actor, token: str) -> Cursor:
    """The cursor's state; refused when forged, altered, or issued to someone else."""
    try:
        payload = _serializer(secret).loads(token)
    except BadSignature:
        raise InvalidCursor() from None
    try:
        if payload["u"] != actor.user_id.hex:
            raise InvalidCursor("This cursor was issued to another account. Start again.")
        cursor = Cursor(seq=int(payload["s"]), digest=str(payload["d"]))
        if "i" in payload:
            cursor.inbox = str(payload["i"])
        if "p" in payload:
            copy_from, step, after = payload["p"]
            cursor.copying, cursor.copy_from, cursor.step, cursor.after = (
                True,
                copy_from,
                step,
                after,
            )
    except (KeyError, TypeError, ValueError):
        raise InvalidCursor() from None
    return cursor


# --- scopes ------------------------------------------------------------------------------


def current_scope(db: Session, actor: Actor) -> tuple[str, list[str]]:
    """What the caller's scope is made of now: grid ids, or managed building ids."""
    if actor.is_admin:
        return "all", []
    if actor.role == "building_manager":
        ids = db.scalars(scope.managed_building_ids(actor))
        return "buildings", sorted(str(i) for i in ids)
    ids = db.scalars(scope.visible_grid_ids(actor))
    return "grids", sorted(str(i) for i in ids)


def _digest(kind: str, ids: list[str]) -> str:
    if kind == "all":
        return ALL
    return hashlib.sha256((kind + ":" + ",".join(ids)).encode()).hexdigest()[:24]


def _keep_scope(db: Session, actor: Actor, kind: str, ids: list[str]) -> str:
    """Store the scope (again, if it was pruned) and note that it is in use."""
    digest = _digest(kind, ids)
    if digest == ALL:
        return digest
    builder = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    db.execute(
        builder(SyncScope)
        .values(user_id=actor.user_id, digest=digest, kind=kind, ids=ids, used_at=now)
        .on_conflict_do_nothing()
    )
    # At most once a day, and only then is the row written (and locked).
    db.execute(
        update(SyncScope)
        .where(
            SyncScope.user_id == actor.user_id,
            SyncScope.digest == digest,
            SyncScope.used_at < now - SCOPE_TOUCH,
        )
        .values(used_at=now)
    )
    return digest


def _buildings_of(db: Session, actor: Actor, digest: str) -> Select:
    """The buildings a stored scope covers (as it lies now), as a subquery of ids."""
    if digest == ALL:
        return select(Building.id)
    stored = db.get(SyncScope, (actor.user_id, digest))
    if stored is None:
        raise InvalidCursor("This cursor is no longer known. Start again.")
    ids = [uuid.UUID(i) for i in stored.ids]
    if stored.kind == "grids":
        return select(Building.id).where(Building.grid_id.in_(ids))
    return select(Building.id).where(Building.id.in_(ids))


# --- copying -----------------------------------------------------------------------------


def _steps(cursor: Cursor) -> list[tuple[str, str]]:
    """The copy's steps: ("delete", entity) for what left, then ("upsert", entity)."""
    upserts = [("upsert", name) for name in COPY_ORDER]
    if cursor.copy_from is None:
        return upserts
    return [("delete", name) for name in KEPT_PER_BUILDING] + [
        ("upsert", name) for name in KEPT_PER_BUILDING
    ]


def _parse_key(raw: list[str] | None) -> tuple | None:
    if raw is None:
        return None
    try:
        return tuple(uuid.UUID(v) for v in raw)
    except (TypeError, ValueError, AttributeError):
        raise InvalidCursor() from None


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
        old = _buildings_of(db, actor, cursor.copy_from)
        new = _buildings_of(db, actor, cursor.digest)
    while budget > 0 and cursor.step < len(steps):
        action, name = steps[cursor.step]
        entity = ENTITIES[name]
        after = _parse_key(cursor.after)
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


# --- changes -----------------------------------------------------------------------------


def prune(db: Session, *, now: datetime, keep: timedelta) -> tuple[int, int]:
    """Forget change records and stored scopes older than ``keep``: how many of each.

    The newest change record stays, whatever its age: it carries the numbering on. A phone
    whose cursor is older than what is left is told to start again (``invalid-cursor``).
    """
    cutoff = now - keep
    # Always a run from the oldest end, so that a reader can tell what is gone by the oldest
    # number left: hosts' clocks may disagree a little with the numbering.
    last_old = db.scalar(select(func.max(SyncChange.seq)).where(SyncChange.at < cutoff))
    changes = 0
    if last_old is not None:
        upto = min(last_old, newest_seq(db) - 1)
        changes = db.execute(delete(SyncChange).where(SyncChange.seq <= upto)).rowcount
    scopes = db.execute(delete(SyncScope).where(SyncScope.used_at < cutoff)).rowcount
    return changes, scopes


def newest_seq(db: Session) -> int:
    return db.scalar(select(func.coalesce(func.max(SyncChange.seq), 0)))


def _changed_rows(db: Session, actor: Actor, after: int, upto: int, limit: int) -> list:
    stmt = (
        select(SyncChange.seq, SyncChange.entity, SyncChange.object_id)
        .where(
            SyncChange.seq > after,
            SyncChange.seq <= upto,
            scope.where(actor, SyncChange),
        )
        .order_by(SyncChange.seq)
        .limit(limit + 1)
    )
    rows = db.execute(stmt).all()
    # Asked after the rows were read, so that a prune committed meanwhile is seen as well:
    # the log is pruned from its oldest end, and the newest record is always kept.
    oldest = db.scalar(select(func.min(SyncChange.seq)))
    if oldest is not None and oldest > after + 1:
        raise InvalidCursor("This cursor is older than the changes the server keeps. Start again.")
    return rows


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


def _start_move_if_scope_changed(db: Session, actor: Actor, cursor: Cursor) -> None:
    if cursor.digest == ALL and actor.is_admin:
        return
    digest = _keep_scope(db, actor, *current_scope(db, actor))
    if digest != cursor.digest:
        _buildings_of(db, actor, cursor.digest)  # the cursor's scope must still be known
        cursor.copying, cursor.copy_from, cursor.step, cursor.after = True, cursor.digest, 0, None
        cursor.digest = digest


def inbox_text(db: Session, actor: Actor, notice_days: int) -> bytes:
    """The caller's inbox (its first ``INBOX_LIMIT`` items) as JSON; written by the database
    on PostgreSQL, item for item as the inbox's own."""
    if db.get_bind().dialect.name != "postgresql":
        items, _ = review_inbox.inbox(
            db=db, actor=actor, limit=INBOX_LIMIT, cursor=None, notice_days=notice_days
        )
        return orjson.dumps(items, option=JSON_OPTIONS)
    now = utcnow()
    rows, key = review_inbox.waiting(actor, now, notice_days)
    first = select(rows, key[0].label("at")).order_by(*key).limit(INBOX_LIMIT).subquery()
    joined = func.string_agg(
        inbox_document(first, now),
        aggregate_order_by(literal_column("','"), first.c.at, first.c.kind, first.c.ref_id),
    )
    text = db.connection().execute(select(joined)).scalar()
    return b"[" + (text or "").encode() + b"]"


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
        digest = _keep_scope(db, actor, *current_scope(db, actor))
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
            rows = _changed_rows(db, actor, cursor.seq, upto, budget)
            if rows:
                _start_move_if_scope_changed(db, actor, cursor)
                if cursor.copying:
                    budget = _copy(db, actor, cursor, page, budget)
                    if cursor.copying or budget == 0:
                        page.has_more = True
                        page.next_cursor = encode_cursor(secret, actor, cursor)
                        return page
                    rows = _changed_rows(db, actor, cursor.seq, upto, budget)
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
