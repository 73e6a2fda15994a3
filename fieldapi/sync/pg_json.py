"""JSON text written by PostgreSQL: the pieces each kind's document is built from.

The documents have the shapes the objects take in Python, written as compact JSON text by
the database, so a full copy's tens of thousands of objects never become Python values: the
answer is their text joined. Each value is turned into JSON by its kind; times as in Python:
UTC, to the second, Z.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Text,
    any_,
    case,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

TIME_FORMAT = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS"Z"'""")
DATE_FORMAT = literal_column("'YYYY-MM-DD'")


def constant(text: str) -> ColumnElement:
    """A constant piece of JSON text."""
    return literal_column("'" + text.replace("'", "''") + "'", Text)


def _value(column, kind: str) -> ColumnElement:
    """``column`` as JSON text, or SQL null when it is null."""
    match kind:
        case "id":
            return constant('"').concat(cast(column, Text)).concat(constant('"'))
        case "text":
            return cast(func.to_json(column), Text)
        case "time":
            stamp = func.to_char(func.timezone("UTC", column), TIME_FORMAT)
            return constant('"').concat(stamp).concat(constant('"'))
        case "date":
            return constant('"').concat(func.to_char(column, DATE_FORMAT)).concat(constant('"'))
        case "number" | "json":
            return cast(column, Text)
    raise ValueError(kind)


def json_object(*fields: tuple) -> ColumnElement:
    """JSON object text of (name, value, kind) fields, ``kind`` as in ``_value`` or "raw"
    for JSON text built already. A kind ending in "?" leaves the field out when null;
    other fields are written as null."""
    parts: list[Any] = []
    for n, (name, column, kind) in enumerate(fields):
        key = ("{" if n == 0 else ",") + f'"{name}":'
        optional = kind.endswith("?")
        kind = kind.rstrip("?")
        value = column if kind == "raw" else _value(column, kind)
        if optional:
            parts.append(constant(key).concat(value))
        else:
            parts.extend((constant(key), func.coalesce(value, constant("null"))))
    parts.append(constant("}"))
    return func.concat(*parts)


def json_array(element: ColumnElement, *order_by, where=None) -> ColumnElement:
    """An aggregate: the JSON array text of ``element`` over the rows (those ``where`` holds),
    in order; null when there are none."""
    joined = func.string_agg(element, aggregate_order_by(constant(","), *order_by))
    if where is not None:
        joined = joined.filter(where)
    return constant("[").concat(joined).concat(constant("]"))


def json_list(select_stmt: Select) -> ColumnElement:
    """A correlated JSON array (``[]`` when there are no rows)."""
    return func.coalesce(select_stmt.scalar_subquery(), constant("[]"))


def json_location(model) -> ColumnElement:
    place = json_object(("lat", model.lat, "number"), ("lon", model.lon, "number"))
    return case((model.lat.is_not(None), place))


def unless_empty(column) -> ColumnElement:
    """A JSON list column's text, or null when it is empty."""
    return case((cast(column, String) != "[]", cast(column, Text)))


def among(column, ids: ColumnElement | Select) -> ColumnElement[bool]:
    """``column`` is one of ``ids``: an array of ids, or a select of them."""
    if isinstance(ids, Select):
        return column.in_(ids)
    return column == any_(ids)


def id_and_doc(model, doc: ColumnElement, ids: ColumnElement | Select) -> Select:
    """(id, doc) of the objects among ``ids``, the id as text: it only goes into answers."""
    return select(cast(model.id, Text).label("id"), doc.label("doc")).where(among(model.id, ids))
