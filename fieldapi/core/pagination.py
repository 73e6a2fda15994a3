"""Keyset (cursor) pagination with opaque cursors and a bounded ``limit``."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from marshmallow import Schema, fields, validate
from sqlalchemy import Integer, Select, bindparam, tuple_
from sqlalchemy.orm import Session

from fieldapi.core import jsonbody
from fieldapi.core.problems import Problem

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
PAGE_SIZE = "page_size"  # the parameter a keyset statement's LIMIT is bound to
AFTER = "page_after_"  # the parameters of the key a page starts after, numbered


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


def after_values(cursor: str, parse: Sequence[Callable[[str], Any]]) -> list[Any]:
    """The key values a cursor names, each read by its ``parse`` (400 when it is not one)."""
    raw = decode_cursor(cursor, len(parse))
    try:
        return [conv(v) for conv, v in zip(parse, raw, strict=True)]
    except (ValueError, TypeError):
        raise Problem(slug="invalid-cursor") from None


def keyset(
    stmt: Select, order_by: Sequence[Any], after: Sequence[Any] | None, descending: bool
) -> Select:
    """``stmt`` from just after the key ``after`` (values, or bind parameters), in key order,
    one row more than the page (``PAGE_SIZE``, a parameter)."""
    if after is not None:
        if descending:
            stmt = stmt.where(tuple_(*order_by) < tuple_(*after))
        else:
            stmt = stmt.where(tuple_(*order_by) > tuple_(*after))
    ordering = [c.desc() for c in order_by] if descending else list(order_by)
    return stmt.order_by(*ordering).limit(bindparam(PAGE_SIZE, type_=Integer()))


def after_params(values: Sequence[Any]) -> dict[str, Any]:
    """The parameters of a ``keyset`` statement made with ``after_binds``."""
    return {f"{AFTER}{n}": v for n, v in enumerate(values)}


def after_binds(order_by: Sequence[Any]) -> list[Any]:
    """Bind parameters for the key a page starts after, typed as its columns."""
    return [bindparam(f"{AFTER}{n}", type_=c.type) for n, c in enumerate(order_by)]


def split_page(found: list[T], limit: int, key: Callable[[T], Sequence[Any]]):
    """The page of rows read by a ``keyset`` statement, and the cursor of the next page."""
    if len(found) <= limit:
        return found, None
    found = found[:limit]
    return found, encode_cursor(key(found[-1]))


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
    after = after_values(cursor, parse) if cursor else None
    page = keyset(stmt, order_by, after, descending)
    values = {**(params or {}), PAGE_SIZE: limit + 1}
    # Rows come straight from the connection: no ORM objects to build for them.
    found = list(db.connection().execute(page, values) if rows else db.scalars(page, values))
    return split_page(found, limit, key)
