"""Lists of building files: one statement a page, each row already the summary it answers.

A list shows fifty buildings at a time on a map or in a work queue; loading fifty whole
files with their units, residents, shops and equipment to show a dozen fields of each
would cost a hundred times the answer. So a page selects just the summary's columns, the
expired equipment counted by the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from fieldapi.buildings.models import Building, Equipment
from fieldapi.buildings.present import is_overdue
from fieldapi.core import scope
from fieldapi.core.db import utcnow
from fieldapi.core.pagination import paginate
from fieldapi.core.scope import Actor

b = Building


def _summaries(actor: Actor) -> Select:
    columns = (
        b.id,
        b.code,
        b.name,
        b.address,
        b.grid_id,
        b.lat,
        b.lon,
        b.use_type,
        b.floors_above,
        b.risk_level,
        b.self_check_interval_days,
        b.next_self_check_due_at,
        b.version,
        b.updated_at,
    )
    expired = (
        select(func.coalesce(func.sum(Equipment.count), 0))
        .where(Equipment.building_id == b.id, Equipment.expires_on < bindparam("today"))
        .scalar_subquery()
    )
    return select(*columns, expired.label("expired_equipment")).where(scope.where(actor, Building))


def summary(row, now: datetime) -> dict[str, Any]:
    """A building in a list, as ``BuildingSummarySchema`` describes it."""
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "address": row.address,
        "grid_id": row.grid_id,
        "location": {"lat": row.lat, "lon": row.lon},
        "use_type": row.use_type,
        "floors_above": row.floors_above,
        "risk_level": row.risk_level,
        "self_check": {
            "interval_days": row.self_check_interval_days,
            "next_due_at": row.next_self_check_due_at,
            "overdue": is_overdue(row.next_self_check_due_at, now),
        },
        "expired_equipment": int(row.expired_equipment),
        "version": row.version,
        "updated_at": row.updated_at,
    }


def _escaped(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_buildings(
    *, db: Session, actor: Actor, filters: dict[str, Any], limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the buildings in scope, by code, as summaries."""
    now = utcnow()
    stmt, params = scope.prepared("building_summaries", actor, _summaries)
    for name in ("grid_id", "use_type", "risk_level"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Building, name) == filters[name])
    overdue = filters.get("overdue")
    if overdue is True:
        stmt = stmt.where(b.next_self_check_due_at < now)
    elif overdue is False:
        stmt = stmt.where(or_(b.next_self_check_due_at.is_(None), b.next_self_check_due_at >= now))
    if filters.get("q"):
        pattern = f"%{_escaped(filters['q'])}%"
        stmt = stmt.where(
            or_(
                b.code.ilike(pattern, escape="\\"),
                b.address.ilike(pattern, escape="\\"),
                b.name.ilike(pattern, escape="\\"),
            )
        )
    rows, next_cursor = paginate(
        db,
        stmt,
        order_by=[b.code],
        key=lambda r: [r.code],
        parse=[str],
        limit=limit,
        cursor=cursor,
        rows=True,
        params={**params, "today": now.date()},
    )
    return [summary(r, now) for r in rows], next_cursor
