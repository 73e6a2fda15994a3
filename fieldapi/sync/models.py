"""The change log the sync endpoint reads, the scopes its cursors were issued for, and the
objects' documents kept for it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, or_
from sqlalchemy.orm import Mapped, mapped_column

from fieldapi.core import scope
from fieldapi.core.db import Base, utcnow


class SyncChange(Base):
    """One object that changed in one committed transaction, and where it lay at the time.

    Rows are numbered under the audit head's row lock, held until commit, so ``seq`` order is
    commit order and a reader never sees seq N+1 committed while N is still to come. An object
    moved between grids gets a row for its old grid and one for its new grid: readers of each
    learn of it. Whether the object is now upserted or deleted is decided when it is read.
    """

    __tablename__ = "sync_changes"
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    # buildings, inspections, hazards, rectifications, submissions, templates, photos;
    # "scope" for a change of who sees what (an account's assignments, the area tree).
    entity: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[uuid.UUID] = mapped_column()
    # Null for what is not kept per building (templates, scope changes): everyone reads those.
    building_id: Mapped[uuid.UUID | None] = mapped_column()
    grid_id: Mapped[uuid.UUID | None] = mapped_column()
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncScope(Base):
    """A scope some cursor was issued for: the grids (or managed buildings) it covered.

    A cursor names its scope by digest; when the caller's scope differs at the next pull, the
    two stored sets say which buildings entered and which left. The caller's current scope is
    stored again whenever it is missing, so pruning one only costs a phone that held it a new
    full copy if its scope changed after that.
    """

    __tablename__ = "sync_scopes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # grids | buildings
    ids: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Moved on (at most daily) whenever a pull stores or finds this scope as the caller's;
    # scopes unused for longer than the change log is kept are pruned with it.
    used_at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncDocument(Base):
    """The document a phone is sent for one object, kept as JSON text (PostgreSQL only).

    Written in the transaction that changes the object (``fieldapi.sync.documents``), so that
    a full copy reads text instead of building tens of thousands of documents. A document of
    another ``shape`` than the code's, or a missing one, is built when it is read.
    """

    __tablename__ = "sync_documents"
    # Raise whenever a stored entity's document changes: older documents are then built on
    # read until ``flask --app wsgi sync documents --rebuild`` has run.
    SHAPE: ClassVar[int] = 1

    entity: Mapped[str] = mapped_column(String(16), primary_key=True)
    object_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # Removed with its building; an object removed on its own takes its document along.
    building_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("buildings.id", ondelete="CASCADE"), index=True
    )
    shape: Mapped[int] = mapped_column(Integer)
    doc: Mapped[str] = mapped_column(Text)


def _change_clause(actor: scope.Actor):
    """A change concerns the actor when it lay in their scope, or is kept for everyone."""
    return or_(
        SyncChange.building_id.is_(None),
        scope.building_clause(actor, SyncChange.building_id, SyncChange.grid_id),
    )


scope.register(SyncChange, _change_clause)
