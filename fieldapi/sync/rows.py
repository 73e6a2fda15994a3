"""Many ids in one query, and the plain-row conversions the shapes built in Python share.

Ids go to a query in chunks of ``IN_CHUNK``; on PostgreSQL as one comma-separated text
rather than an array parameter of thousands.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Text, Uuid, any_, bindparam, cast, func, literal_column
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

Rows = Sequence[Any]
IN_CHUNK = 5000


def chunks(ids: Sequence[uuid.UUID]):
    for start in range(0, len(ids), IN_CHUNK):
        yield ids[start : start + IN_CHUNK]


def id_array(ids: Sequence[uuid.UUID | str] | str) -> ColumnElement:
    """A PostgreSQL array of ids, sent as one comma-separated text (thousands of ids as an
    array parameter cost more to send than the query takes)."""
    text = ids if isinstance(ids, str) else ",".join(str(i) for i in ids)
    joined = bindparam(None, text, type_=Text)
    return cast(func.string_to_array(joined, literal_column("','")), ARRAY(Uuid()))


def one_of(db: Session, column, ids: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL one array parameter rather than thousands."""
    if db.get_bind().dialect.name == "postgresql":
        return column == any_(id_array(ids))
    return column.in_(ids)


def raw_json(column) -> ColumnElement:
    """A JSON column as its text, passed into the answer as it is, without parsing."""
    return cast(column, Text)


def fragment(text: str | None):
    return None if text is None else orjson.Fragment(text)


def location(lat, lon) -> dict[str, float] | None:
    return {"lat": lat, "lon": lon} if lat is not None else None
