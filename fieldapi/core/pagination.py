"""Keyset (cursor) pagination with opaque cursors and a bounded ``limit``."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from marshmallow import Schema, fields, validate
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session

from fieldapi.core import jsonbody
from fieldapi.core.problems import Problem

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageArgs(Schema):
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT)
    )
    cursor = fields.String(load_default=None, validate=validate.Length(max=512))


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([str(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, size: int) -> list[str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = jsonbody.loads(raw)
    except (binascii.Error, ValueError, jsonbody.MalformedJson):
        raise Problem(slug="invalid-cursor") from None
    if not isinstance(values, list) or len(values) != size:
        raise Problem(slug="invalid-cursor")
    if not all(isinstance(v, str) for v in values):
        raise Problem(slug="invalid-cursor")
    return values


def paginate(
    db: Session,
    stmt: Select,
    *,
    order_by: Sequence[Any],
    key: Callable[[T], Sequence[Any]],
    parse: Sequence[Callable[[str], Any]],
    limit: int,
    cursor: str | None,
    descending: bool = False,
    rows: bool = False,
    params: dict[str, Any] | None = None,
) -> tuple[list[T], str | None]:
    """One page of ``stmt`` ordered by the unique key ``order_by``.

    ``key`` reads that key from a row, ``parse`` turns cursor strings back into values.
    The page holds the first column's values, or whole rows when ``rows``; ``params`` are
    the values of the statement's own parameters.
    """
    if cursor:
        raw = decode_cursor(cursor, len(order_by))
        try:
            values = [conv(v) for conv, v in zip(parse, raw, strict=True)]
        except (ValueError, TypeError):
            raise Problem(slug="invalid-cursor") from None
        after = (
            tuple_(*order_by) < tuple_(*values)
            if descending
            else tuple_(*order_by) > tuple_(*values)
        )
        stmt = stmt.where(after)
    ordering = [c.desc() for c in order_by] if descending else list(order_by)
    page = stmt.order_by(*ordering).limit(limit + 1)
    # Rows come straight from the connection: no ORM objects to build for them.
    found = list(db.connection().execute(page, params) if rows else db.scalars(page, params))
    if len(found) <= limit:
        return found, None
    found = found[:limit]
    return found, encode_cursor(key(found[-1]))
