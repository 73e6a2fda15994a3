"""The inbox sent along with sync, as JSON text written by PostgreSQL item for item as
``fieldapi.review.inbox`` gives it."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_

from fieldapi.sync.pg_json import json_object


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
