"""Database plumbing: the declarative base, column types, engines and the request session.

One request is one transaction: services only ``flush()``; the app commits once the view
has answered without error and rolls back otherwise (see ``fieldapi.create_app``).
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import current_app, g, request
from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql import Select
from sqlalchemy.types import JSON, TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JSONDocument(TypeDecorator):
    """JSON on SQLite, JSONB on PostgreSQL."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime,
        dict[str, Any]: JSONDocument,
        list[Any]: JSONDocument,
    }


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, *, autocommit: bool = False) -> Engine:
    """The engine for ``url``; with ``autocommit`` its connections run each statement on its
    own (for ``read_only`` requests: no BEGIN and COMMIT to wait for)."""
    # A failed statement's message then names no bound value (an ID number, a phone number,
    # a password hash), so the traceback an error leaves in the log carries none.
    options: dict = {"hide_parameters": True}
    if autocommit:
        options["isolation_level"] = "AUTOCOMMIT"
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, **options
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=10, **options)
    event.listen(engine, "checkout", _pinger(engine.dialect))
    event.listen(engine, "checkin", _note_checkin)
    return engine


# A pooled connection unused for this long is pinged before it is handed out (the
# database may have restarted meanwhile); one in steady use is not, which spares a round
# trip on every request.
IDLE_PING_SECONDS = 5.0


def _note_checkin(_dbapi_connection, record) -> None:
    record.info["checked_in"] = time.monotonic()


def _pinger(dialect):
    def ping_if_idle(dbapi_connection, record, _proxy) -> None:
        checked_in = record.info.get("checked_in")
        if checked_in is not None and time.monotonic() - checked_in < IDLE_PING_SECONDS:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception:
            alive = False
        if not alive:
            # The pool drops this connection and hands out another, as pre_ping would.
            raise DisconnectionError()

    return ping_if_idle


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for ``read_only`` requests, on an engine in autocommit; a flush (a write) is
    refused."""
    maker = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(maker, "before_flush", _refuse_writes)
    return maker


def _refuse_writes(_session, _context, _instances) -> None:
    raise RuntimeError("a read_only view tried to write")


def for_update(stmt: Select) -> Select:
    """``stmt`` reading its rows as they are now, locked until commit, whatever this session
    read of them before. (``Session.get`` with a lock instead refuses a row whose version
    moved on since it was read.)"""
    return stmt.with_for_update().execution_options(populate_existing=True)


F = TypeVar("F", bound=Callable[..., Any])


def created_once(model: type[Base]) -> Callable[[F], F]:
    """For a service that creates ``model`` under a client-chosen id, or answers what that
    id already names (called with ``db=`` by keyword).

    A create and its retry sent at once both find the id free; the later insert waits for
    the earlier transaction and then fails on the key. The service then runs again: it finds
    the stored object and answers as a later retry would (the object, or a conflict).
    On SQLite, whose driver cannot open a savepoint in a transaction it has not begun, the
    service runs as it is."""
    key = f"pk_{model.__tablename__}"

    def wrap(service: F) -> F:
        @functools.wraps(service)
        def run(*, db: Session, **kwargs):
            if db.get_bind().dialect.name != "postgresql":
                return service(db=db, **kwargs)
            try:
                with db.begin_nested():
                    return service(db=db, **kwargs)
            except IntegrityError as exc:
                if getattr(getattr(exc.orig, "diag", None), "constraint_name", None) != key:
                    raise
            return service(db=db, **kwargs)

        return run  # type: ignore[return-value]

    return wrap


_READ_ONLY = "_fieldapi_read_only"


def read_only(view: F) -> F:
    """Mark a GET view that only reads: its request runs without a transaction (each
    statement sees what is committed), which spares the round trips that open and end one."""
    setattr(view, _READ_ONLY, True)
    return view


def _reads_only() -> bool:
    from fieldapi.core.permissions import view_handler

    if request.method not in ("GET", "HEAD") or request.endpoint is None:
        return False
    handler = view_handler(current_app, request.endpoint, request.method)
    return getattr(handler, _READ_ONLY, False)


def session() -> Session:
    """The current request's session, opened on first use."""
    if "db_session" not in g:
        name = "fieldapi.read_sessionmaker" if _reads_only() else "fieldapi.sessionmaker"
        g.db_session = current_app.extensions[name]()
    return g.db_session


def finish_request_session(*, commit: bool) -> None:
    """Commit or roll back the request's session, if one was opened."""
    db = g.get("db_session")
    if db is None:
        return
    if commit:
        db.commit()
    else:
        db.rollback()


def close_request_session(_exc=None) -> None:
    db = g.pop("db_session", None)
    if db is not None:
        db.close()
