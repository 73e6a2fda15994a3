"""The change log as deltas read it: its newest number, the changes after a cursor in the
caller's scope, and pruning what is older than phones are given."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fieldapi.core import scope
from fieldapi.core.scope import Actor
from fieldapi.sync.cursor import InvalidCursor
from fieldapi.sync.models import SyncChange, SyncScope


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


_NEWEST = select(func.coalesce(func.max(SyncChange.seq), 0))


def newest_seq(db: Session) -> int:
    """The number of the last change committed (0 before any): asked on every pull."""
    return db.connection().execute(_NEWEST).scalar_one()


def changed_rows(db: Session, actor: Actor, after: int, upto: int, limit: int) -> list:
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
