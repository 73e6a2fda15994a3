"""The scope a phone holds: grids or managed buildings, kept by digest in ``sync_scopes``,
and a copy started when the caller's scope is no longer the cursor's."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building
from fieldapi.core import scope
from fieldapi.core.db import utcnow
from fieldapi.core.scope import Actor
from fieldapi.sync.cursor import Cursor, InvalidCursor
from fieldapi.sync.models import SyncScope

ALL = "*"  # the digest of an admin's scope: everything, always
SCOPE_TOUCH = timedelta(days=1)  # how stale a stored scope's ``used_at`` may get


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


def keep_scope(db: Session, actor: Actor, kind: str, ids: list[str]) -> str:
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


def buildings_of(db: Session, actor: Actor, digest: str) -> Select:
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


def start_move_if_scope_changed(db: Session, actor: Actor, cursor: Cursor) -> None:
    if cursor.digest == ALL and actor.is_admin:
        return
    digest = keep_scope(db, actor, *current_scope(db, actor))
    if digest != cursor.digest:
        buildings_of(db, actor, cursor.digest)  # the cursor's scope must still be known
        cursor.copying, cursor.copy_from, cursor.step, cursor.after = True, cursor.digest, 0, None
        cursor.digest = digest
