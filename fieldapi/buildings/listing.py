"""Lists of building files: one statement a page, each row already the summary it answers.

A list shows fifty buildings at a time on a map or in a work queue; loading fifty whole
files with their units, residents, shops and equipment to show a dozen fields of each
would cost a hundred times the answer. So a page selects just the summary's columns, the
expired equipment counted by the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building, Equipment
from fieldapi.buildings.present import is_overdue
from fieldapi.core import direct, scope
from fieldapi.core.db import utcnow
from fieldapi.core.pagination import (
    PAGE_SIZE,
    after_binds,
    after_params,
    after_values,
    keyset,
    split_page,
)
from fieldapi.core.scope import Actor

b = Building


_FIELDS = (
    "id",
    "code",
    "name",
    "address",
    "grid_id",
    "lat",
    "lon",
    "use_type",
    "floors_above",
    "risk_level",
    "self_check_interval_days",
    "next_self_check_due_at",
    "version",
    "updated_at",
)
_EQUALS = ("grid_id", "use_type", "risk_level")  # filters that name a value
ORDER = (b.code,)


def _escaped(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class _Shape:
    """What a page's statement depends on (the values are its parameters)."""

    equals: tuple[str, ...]
    overdue: bool | None
    search: bool
    after: bool

    def build(self, actor: Actor) -> Select:
        expired = (
            select(func.coalesce(func.sum(Equipment.count), 0))
            .where(Equipment.building_id == b.id, Equipment.expires_on < bindparam("today"))
            .scalar_subquery()
        )
        columns = [getattr(b, name) for name in _FIELDS]
        stmt = select(*columns, expired).where(scope.where(actor, Building))
        for name in self.equals:
            column = getattr(Building, name)
            stmt = stmt.where(column == bindparam(f"filter_{name}", type_=column.type))
        due = b.next_self_check_due_at
        if self.overdue is True:
            stmt = stmt.where(due < bindparam("now", type_=due.type))
        elif self.overdue is False:
            stmt = stmt.where(or_(due.is_(None), due >= bindparam("now", type_=due.type)))
        if self.search:
            pattern = bindparam("pattern", type_=b.code.type)
            stmt = stmt.where(
                or_(
                    b.code.ilike(pattern, escape="\\"),
                    b.address.ilike(pattern, escape="\\"),
                    b.name.ilike(pattern, escape="\\"),
                )
            )
        after = after_binds(ORDER) if self.after else None
        return keyset(stmt, ORDER, after, descending=False)


def summary(row: tuple, now: datetime) -> dict[str, Any]:
    """A building in a list, as ``BuildingSummarySchema`` describes it."""
    interval, due, version, updated_at, expired = row[10:]
    return {
        "id": row[0],
        "code": row[1],
        "name": row[2],
        "address": row[3],
        "grid_id": row[4],
        "location": {"lat": row[5], "lon": row[6]},
        "use_type": row[7],
        "floors_above": row[8],
        "risk_level": row[9],
        "self_check": {
            "interval_days": interval,
            "next_due_at": due,
            "overdue": is_overdue(due, now),
        },
        "expired_equipment": int(expired),
        "version": version,
        "updated_at": updated_at,
    }


def list_buildings(
    *, db: Session, actor: Actor, filters: dict[str, Any], limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the buildings in scope, by code, as summaries: its statement made once for
    each role and shape of filters, run with this page's values."""
    now = utcnow()
    equals = tuple(name for name in _EQUALS if filters.get(name) is not None)
    overdue, search = filters.get("overdue"), bool(filters.get("q"))
    shape = _Shape(equals, overdue, search, after=bool(cursor))
    stmt, params = scope.prepared(("building_summaries", shape), actor, shape.build)
    params.update({f"filter_{name}": filters[name] for name in equals})
    params.update({"today": now.date(), "now": now, PAGE_SIZE: limit + 1})
    if search:
        params["pattern"] = f"%{_escaped(filters['q'])}%"
    if cursor:
        params.update(after_params(after_values(cursor, [str])))
    found = direct.rows(db, stmt, params)
    rows, next_cursor = split_page(found, limit, key=lambda row: [row[1]])
    return [summary(r, now) for r in rows], next_cursor
