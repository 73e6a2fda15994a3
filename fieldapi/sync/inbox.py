"""The inbox sent along with sync: the caller's inbox as JSON, written by the database on
PostgreSQL item for item as ``fieldapi.review.inbox`` gives it."""

from __future__ import annotations

import orjson
from sqlalchemy import ColumnElement, and_, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from fieldapi.core.db import utcnow
from fieldapi.core.scope import Actor
from fieldapi.review import inbox as review_inbox
from fieldapi.sync.encoding import JSON_OPTIONS
from fieldapi.sync.pg_json import json_object

INBOX_LIMIT = 5000


def inbox_document(rows, now) -> ColumnElement:
    """One inbox item as JSON text, of a row of ``fieldapi.review.inbox.waiting``: the
    fields and order of the inbox's own items."""
    c = rows.c
    return json_object(
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
